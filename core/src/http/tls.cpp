#include "http/tls.hpp"

#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SSLException.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <mutex>

namespace gradatum::http {

namespace {

std::string openssl_error() {
    unsigned long code = ERR_get_error();
    std::string text;
    while (code != 0) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        text += (text.empty() ? "" : "; ") + std::string(buffer);
        code = ERR_get_error();
    }
    return text.empty() ? "unknown OpenSSL error" : text;
}

// The certificates of a PEM file, appended to the context's chain (server.tls.ca).
void add_chain(SSL_CTX* context, const std::string& path) {
    FILE* file = std::fopen(path.c_str(), "r");
    if (!file) throw TlsError("server.tls.ca", "cannot open " + path);
    int count = 0;
    while (X509* certificate = PEM_read_X509(file, nullptr, nullptr, nullptr)) {
        // The context owns the certificate from here on.
        if (SSL_CTX_add_extra_chain_cert(context, certificate) != 1) {
            X509_free(certificate);
            std::fclose(file);
            throw TlsError("server.tls.ca", path + ": " + openssl_error());
        }
        ++count;
    }
    std::fclose(file);
    ERR_clear_error();  // the end of the file reads as an error
    if (count == 0) throw TlsError("server.tls.ca", path + ": no PEM certificate in it");
}

std::string describe(SSL_CTX* context) {
    X509* certificate = SSL_CTX_get0_certificate(context);
    if (!certificate) return "?";
    char subject[256];
    X509_NAME_oneline(X509_get_subject_name(certificate), subject, sizeof subject);
    BIO* bio = BIO_new(BIO_s_mem());
    ASN1_TIME_print(bio, X509_get0_notAfter(certificate));
    char expiry[64] = {};
    BIO_read(bio, expiry, sizeof expiry - 1);
    BIO_free(bio);
    return std::string(subject) + ", valid until " + expiry;
}

}  // namespace

std::shared_ptr<TlsContext> TlsContext::load(const TlsSettings& settings) {
    static std::once_flag initialized;
    std::call_once(initialized, [] { Poco::Net::initializeSSL(); });
    auto tls = std::make_shared<TlsContext>();
    Poco::Net::Context::Params params;
    params.verificationMode = Poco::Net::Context::VERIFY_NONE;  // clients authenticate by key
    params.loadDefaultCAs = false;
    params.cipherList = "HIGH:!aNULL:!MD5:!RC4";
    try {
        // Loaded one at a time, so that an error names the file at fault.
        params.certificateFile = settings.cert;
        try {
            tls->context_ = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
        } catch (const Poco::Exception& e) {
            throw TlsError("server.tls.cert", settings.cert + ": not a usable PEM certificate (" +
                                                  e.displayText() + ")");
        }
        SSL_CTX* native = tls->context_->sslContext();
        FILE* key_file = std::fopen(settings.key.c_str(), "r");
        if (!key_file) throw TlsError("server.tls.key", "cannot open " + settings.key);
        EVP_PKEY* key = PEM_read_PrivateKey(key_file, nullptr, nullptr, nullptr);
        std::fclose(key_file);
        if (!key) {
            throw TlsError("server.tls.key", settings.key + ": not a usable PEM private key (" +
                                                 openssl_error() + ")");
        }
        struct KeyFree {
            EVP_PKEY* key;
            ~KeyFree() { EVP_PKEY_free(key); }
        } key_free{key};
        X509* certificate = SSL_CTX_get0_certificate(native);
        if (!certificate || X509_check_private_key(certificate, key) != 1) {
            ERR_clear_error();
            throw TlsError("server.tls.key",
                           settings.key + " does not match the certificate " + settings.cert);
        }
        if (SSL_CTX_use_PrivateKey(native, key) != 1) {
            throw TlsError("server.tls.key", settings.key + ": " + openssl_error());
        }
        if (!settings.ca.empty()) add_chain(native, settings.ca);
        tls->context_->requireMinimumProtocol(settings.min_version == "1.3"
                                                  ? Poco::Net::Context::PROTO_TLSV1_3
                                                  : Poco::Net::Context::PROTO_TLSV1_2);
        SSL_CTX_set_mode(native, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        tls->description_ = describe(native);
    } catch (const Poco::Exception& e) {
        throw TlsError("server.tls.cert", e.displayText());
    }
    return tls;
}

}  // namespace gradatum::http
