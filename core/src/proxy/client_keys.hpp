// Client API keys (server.api_keys, server.api_keys_file): which requests carry one.
// Keys are compared in constant time and never kept in the clear: only their SHA-256 digests are
// held, and a presented key is digested too, so neither its content nor its length decides how
// long a comparison takes.
#pragma once

#include <Poco/Net/HTTPRequest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace gradatum::proxy {

class ClientKeys {
  public:
    // `keys`: the configured keys (ServerSettings::api_keys); none means no key is required.
    // Throws std::invalid_argument for an empty key (it would let an empty credential in).
    explicit ClientKeys(std::vector<std::string> keys);

    // Keys are configured: requests must carry one.
    bool enabled() const { return !digests_.empty(); }

    // The request carries a configured key as "Authorization: Bearer <key>" (scheme in any case)
    // or "x-api-key: <key>", in any of its headers of those names. True when no keys are
    // configured (enabled() is false).
    bool accepts(const Poco::Net::HTTPRequest& request) const { return accepts_fields(request); }
    // The same over any sequence of (name, value) header pairs.
    template <class Fields>
    bool accepts_fields(const Fields& fields) const {
        if (!enabled()) return true;
        bool accepted = false;  // every header is looked at: no early exit
        for (const auto& [name, value] : fields) {
            std::string_view key = presented_key(name, value);
            if (!key.empty()) accepted = accepts_key(key) || accepted;
        }
        return accepted;
    }

    // One presented key, e.g. from a header; false for an empty one. Takes the same time for
    // any configured key set of the same size, matching or not.
    bool accepts_key(std::string_view presented) const;

    // Authorization or x-api-key (any case): the headers a client's key travels in, which the
    // proxy must not forward to a backend.
    static bool is_key_header(std::string_view name);
    // The key a header carries ("Authorization: Bearer <key>", "x-api-key: <key>"), or "".
    static std::string_view presented_key(std::string_view name, std::string_view value);

  private:
    using Digest = std::array<unsigned char, 32>;
    static Digest digest(std::string_view text);
    std::vector<Digest> digests_;
};

}  // namespace gradatum::proxy
