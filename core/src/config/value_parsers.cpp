#include "config/value_parsers.hpp"

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

}  // namespace gradatum::config
