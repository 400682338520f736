// TLS for the front's https:// listeners: the server certificate, loaded with Poco NetSSL's
// Context (OpenSSL underneath) and swapped whole on a reload; each connection then gets its own
// OpenSSL session (see ClientConnection).
#pragma once

#include <Poco/Net/Context.h>
#include <openssl/ssl.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "config/config.hpp"

namespace gradatum::http {

// The certificate material is unusable; `key` names the config key (server.tls.cert, ...).
class TlsError : public std::runtime_error {
  public:
    TlsError(std::string key, const std::string& message)
        : std::runtime_error(message), key_(std::move(key)) {}
    const std::string& key() const { return key_; }

  private:
    std::string key_;
};

class TlsContext {
  public:
    // Reads the certificate, its key (they must match) and the optional chain. Throws TlsError.
    static std::shared_ptr<TlsContext> load(const TlsSettings& settings);

    SSL_CTX* native() const { return context_->sslContext(); }
    // The certificate's subject and expiry, for the log.
    const std::string& description() const { return description_; }

  private:
    Poco::Net::Context::Ptr context_;
    std::string description_;
};

}  // namespace gradatum::http
