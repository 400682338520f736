// Parsers for config values that only the core reads (the shared ones are in
// gradatum/config_values.hpp).
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"

namespace gradatum::config {

std::optional<ListenAddress> parse_listen(const std::string& text);  // host:port, [v6]:port

}  // namespace gradatum::config
