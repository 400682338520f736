// Typed readers of a plugin's config values: each throws SettingsError naming the key and
// saying what it expected, so every plugin words the same mistake the same way.
#pragma once

#include <climits>
#include <string>

#include "common/settings_error.hpp"

namespace plugin_common {

long long read_integer(const std::string& key, const std::string& text, long long min,
                       long long max = LLONG_MAX);
// Seconds (decimals allowed), bounded like every duration of the engine.
double read_seconds(const std::string& key, const std::string& text);
// A fraction from 0 to 1.
double read_fraction(const std::string& key, const std::string& text);
bool read_boolean(const std::string& key, const std::string& text);

}  // namespace plugin_common
