#include "settings.hpp"

#include <cctype>

#include "gradatum/config_values.hpp"

namespace remote {

namespace {

using gradatum::config_values::trim;

const std::string kUrlShape = "write http://host:port";

bool starts_with_nocase(const std::string& text, const std::string& prefix) {
    if (text.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
    }
    return true;
}

bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

bool v6_char(char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
}

uint16_t port_number(const std::string& key, const std::string& text) {
    auto v = gradatum::config_values::parse_integer(text);
    bool digits = !text.empty();
    for (char c : text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (!digits || !v || *v < 1 || *v > 65535) {
        throw SettingsError(key, "port '" + text + "' is not a number from 1 to 65535");
    }
    return static_cast<uint16_t>(*v);
}

std::chrono::milliseconds positive_duration(const std::string& key, const std::string& text) {
    auto v = gradatum::config_values::parse_duration(text);
    if (!v || v->count() == 0) {
        throw SettingsError(key, gradatum::config_values::duration_expectation() +
                                     ", more than 0, got '" + text + "'");
    }
    return *v;
}

// The messages never repeat the value: it is a secret.
std::string api_key(const std::string& key, const std::string& value) {
    std::string k(trim(value));
    if (k.empty()) throw SettingsError(key, "empty (leave it unset to send no key)");
    for (unsigned char c : k) {
        if (c < 0x21 || c == 0x7f) {
            throw SettingsError(key, "may not contain spaces or control characters");
        }
    }
    return k;
}

std::string health_path(const std::string& key, const std::string& value) {
    std::string path(trim(value));
    if (path.empty() || path[0] != '/') {
        throw SettingsError(key, "expected a path starting with '/', got '" + path + "'");
    }
    for (unsigned char c : path) {
        if (c < 0x21 || c == 0x7f) {
            throw SettingsError(key, "may not contain spaces or control characters");
        }
    }
    return path;
}

}  // namespace

Endpoint parse_url(const std::string& key, const std::string& raw) {
    const std::string url(trim(raw));
    if (starts_with_nocase(url, "https://")) {
        throw SettingsError(key, "https is not supported yet (http only): " + kUrlShape +
                                     ", or put a TLS-terminating proxy on this host in front");
    }
    if (!starts_with_nocase(url, "http://")) {
        throw SettingsError(key, "expected an http:// URL, got '" + url + "'; " + kUrlShape);
    }
    const std::string rest = url.substr(7);
    const size_t end = rest.find_first_of("/?#");
    const std::string authority = rest.substr(0, end);
    const std::string tail = end == std::string::npos ? "" : rest.substr(end);
    if (authority.find('@') != std::string::npos) {
        // Not echoed: it holds a password.
        throw SettingsError(key,
                            "credentials in the URL are not supported; set remote.api_key "
                            "(sent as Authorization: Bearer)");
    }
    if (!tail.empty() && tail != "/") {
        // Each request keeps its own path (/v1/chat/completions, /health): a prefix would need
        // rewriting every path, and a wrong guess breaks them all. Refused rather than ignored.
        throw SettingsError(key, "a path, query or fragment ('" + tail +
                                     "') is not supported: the engine forwards each request's own "
                                     "path; " +
                                     kUrlShape);
    }
    Endpoint endpoint;
    std::string port_text;
    if (!authority.empty() && authority[0] == '[') {
        const size_t close = authority.find(']');
        if (close == std::string::npos) {
            throw SettingsError(key, "unclosed '[' in the host of '" + url + "'");
        }
        endpoint.host = authority.substr(1, close - 1);
        bool ok = endpoint.host.find(':') != std::string::npos;
        for (char c : endpoint.host) ok = ok && v6_char(c);
        if (!ok) throw SettingsError(key, "'[" + endpoint.host + "]' is not an IPv6 address");
        const std::string after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') throw SettingsError(key, "unexpected '" + after + "' after ']'");
            port_text = after.substr(1);
            endpoint.port = port_number(key, port_text);
        }
    } else {
        const size_t colon = authority.rfind(':');
        endpoint.host = authority.substr(0, colon);
        if (colon != std::string::npos)
            endpoint.port = port_number(key, authority.substr(colon + 1));
        bool ok = !endpoint.host.empty();
        for (char c : endpoint.host) ok = ok && name_char(c);
        if (!ok) {
            throw SettingsError(key, "no valid host in '" + url +
                                         "' (an IPv6 address goes in "
                                         "brackets: http://[::1]:9000)");
        }
    }
    if (endpoint.host.empty()) throw SettingsError(key, "no host in '" + url + "'");
    return endpoint;
}

Settings parse_settings(const std::map<std::string, std::string>& values) {
    Settings s;
    bool have_url = false;
    for (const auto& [key, value] : values) {
        if (key == "remote.url") {
            s.endpoint = parse_url(key, value);
            have_url = true;
        } else if (key == "remote.health_path") {
            s.health_path = health_path(key, value);
        } else if (key == "remote.api_key") {
            s.api_key = api_key(key, value);
        } else if (key == "remote.retry_interval") {
            s.retry_interval = positive_duration(key, value);
        } else if (key == "remote.retry_max") {
            s.retry_max = positive_duration(key, value);
        } else {
            throw SettingsError(key, key.rfind("remote.", 0) == 0
                                         ? "unknown key (known: remote.url, health_path, "
                                           "api_key, retry_interval, retry_max)"
                                         : "unknown key (the remote backend reads remote.*)");
        }
    }
    if (!have_url) {
        throw SettingsError("remote.url", "missing (the server to forward to: " + kUrlShape + ")");
    }
    if (s.retry_max < s.retry_interval) {
        throw SettingsError("remote.retry_max",
                            "shorter than remote.retry_interval (the first delay)");
    }
    return s;
}

}  // namespace remote
