#include "config/value_parsers.hpp"

#include <algorithm>
#include <cctype>

#include "gradatum/config_values.hpp"

namespace gradatum::config {

std::optional<ListenAddress> parse_listen(const std::string& raw) {
    std::string text(config_values::trim(raw));
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);  // [::1]:8080
    }
    auto port = config_values::parse_integer(text.substr(colon + 1));
    if (!port || *port < 0 || *port > 65535) return std::nullopt;
    return ListenAddress{host, static_cast<uint16_t>(*port)};
}

bool valid_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return std::isalnum(u) || c == '_' || c == '-';
    });
}

bool valid_alias(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return std::isalnum(u) || std::string_view("_-.:/@+").find(c) != std::string_view::npos;
    });
}

std::vector<std::string_view> split_list(std::string_view text) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = std::min(text.find(',', start), text.size());
        out.push_back(config_values::trim(text.substr(start, comma - start)));
        start = comma + 1;
    }
    return out;
}

}  // namespace gradatum::config
