#include "common/value_readers.hpp"

#include <charconv>

#include "gradatum/config_values.hpp"

namespace plugin_common {

using gradatum::config_values::trim;

long long read_integer(const std::string& key, const std::string& text, long long min,
                       long long max) {
    auto v = gradatum::config_values::parse_integer(text);
    if (!v || *v < min || *v > max) {
        std::string range = max == LLONG_MAX
                                ? ">= " + std::to_string(min)
                                : "from " + std::to_string(min) + " to " + std::to_string(max);
        throw SettingsError(key, "expected a whole number " + range + ", got '" + text + "'");
    }
    return *v;
}

double read_seconds(const std::string& key, const std::string& text) {
    auto v = gradatum::config_values::parse_duration(text);
    if (!v) {
        throw SettingsError(
            key, gradatum::config_values::duration_expectation() + ", got '" + text + "'");
    }
    return static_cast<double>(v->count()) / 1000;
}

double read_fraction(const std::string& key, const std::string& text) {
    double v = 0;
    std::string_view t = trim(text);
    auto [end, error] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || error != std::errc() || end != t.data() + t.size() || !(v >= 0 && v <= 1)) {
        throw SettingsError(key, "expected a fraction from 0 to 1, got '" + text + "'");
    }
    return v;
}

bool read_boolean(const std::string& key, const std::string& text) {
    auto v = gradatum::config_values::parse_bool(text);
    if (!v) throw SettingsError(key, "expected true or false, got '" + text + "'");
    return *v;
}

}  // namespace plugin_common
