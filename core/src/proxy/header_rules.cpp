#include "header_rules.hpp"

#include <array>

namespace gradatum::proxy {

namespace {

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool is_hop_by_hop(std::string_view name) {
    static constexpr std::array<std::string_view, 10> names = {"connection",
                                                               "keep-alive",
                                                               "proxy-authenticate",
                                                               "proxy-authorization",
                                                               "proxy-connection",
                                                               "te",
                                                               "trailer",
                                                               "transfer-encoding",
                                                               "upgrade",
                                                               "expect"};
    for (std::string_view n : names) {
        if (iequals(name, n)) return true;
    }
    return false;
}

void ConnectionTokens::add_list(std::string_view value) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view token = trim(value.substr(0, comma));
        if (!token.empty()) tokens_.push_back(token);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

bool ConnectionTokens::contains(std::string_view name) const {
    for (std::string_view t : tokens_) {
        if (iequals(t, name)) return true;
    }
    return false;
}

bool is_dropped(std::string_view name, const ConnectionTokens& listed) {
    return is_hop_by_hop(name) || iequals(name, "host") || iequals(name, "content-length") ||
           listed.contains(name);
}

void copy_end_to_end_headers(const Poco::Net::MessageHeader& from, Poco::Net::MessageHeader& to) {
    ConnectionTokens listed;
    for (const auto& [name, value] : from) {
        if (iequals(name, "connection")) listed.add_list(value);
    }
    for (const auto& [name, value] : from) {
        if (!is_dropped(name, listed)) to.add(name, value);
    }
}

}  // namespace gradatum::proxy
