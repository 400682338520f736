#include "proxy/client_keys.hpp"

#include <Poco/SHA2Engine.h>

#include <algorithm>
#include <stdexcept>

#include "proxy/header_rules.hpp"

namespace gradatum::proxy {

namespace {

std::string_view trim_ows(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// The token of "Bearer <token>" (RFC 6750; the scheme is case-insensitive), or "".
std::string_view bearer_token(std::string_view value) {
    value = trim_ows(value);
    constexpr std::string_view kScheme = "bearer";
    if (value.size() <= kScheme.size()) return {};
    for (size_t i = 0; i < kScheme.size(); ++i) {
        char c = value[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != kScheme[i]) return {};
    }
    if (value[kScheme.size()] != ' ' && value[kScheme.size()] != '\t') return {};
    return trim_ows(value.substr(kScheme.size()));
}

}  // namespace

ClientKeys::ClientKeys(std::vector<std::string> keys) {
    for (const auto& key : keys) {
        if (key.empty()) throw std::invalid_argument("ClientKeys: empty key");
        digests_.push_back(digest(key));
    }
}

ClientKeys::Digest ClientKeys::digest(std::string_view text) {
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    engine.update(text.data(), static_cast<unsigned>(text.size()));
    const Poco::DigestEngine::Digest& d = engine.digest();
    Digest out{};
    std::copy_n(d.begin(), std::min(d.size(), out.size()), out.begin());
    return out;
}

bool ClientKeys::accepts_key(std::string_view presented) const {
    if (presented.empty()) return false;
    const Digest candidate = digest(presented);
    // Every configured key is compared, every byte of each: no early exit anywhere.
    unsigned char any_match = 0;
    for (const Digest& key : digests_) {
        unsigned char difference = 0;
        for (size_t i = 0; i < key.size(); ++i) difference |= key[i] ^ candidate[i];
        // 1 when difference == 0, without a branch on the secret-derived value.
        any_match |= static_cast<unsigned char>(1 & ((static_cast<unsigned>(difference) - 1) >> 8));
    }
    return any_match != 0;
}

std::string_view ClientKeys::presented_key(std::string_view name, std::string_view value) {
    if (iequals(name, "Authorization")) return bearer_token(value);
    if (iequals(name, "X-Api-Key")) return trim_ows(value);
    return {};
}

bool ClientKeys::is_key_header(std::string_view name) {
    return iequals(name, "Authorization") || iequals(name, "X-Api-Key");
}

}  // namespace gradatum::proxy
