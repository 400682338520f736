// Strict parsers for config values: reject trailing garbage instead of guessing.
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"

namespace gradatum::config {

std::optional<long long> parse_integer(const std::string& text);
std::optional<double> parse_seconds(const std::string& text);  // non-negative, decimals allowed
std::optional<bool> parse_bool(const std::string& text);       // true/false, yes/no, on/off, 1/0
std::optional<ListenAddress> parse_listen(const std::string& text);  // host:port
std::string trim(const std::string& text);

}  // namespace gradatum::config
