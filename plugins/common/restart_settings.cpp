#include "common/restart_settings.hpp"

#include <climits>

#include "common/settings_error.hpp"
#include "common/value_readers.hpp"

namespace plugin_common {

void read_restart_key(const std::string& key, const std::string& value, RestartSettings& r) {
    const std::string name = key.substr(8);  // after "restart."
    if (name == "initial_delay")
        r.initial_delay_s = read_seconds(key, value);
    else if (name == "max_delay")
        r.max_delay_s = read_seconds(key, value);
    else if (name == "max_retries")
        r.max_retries = static_cast<int>(read_integer(key, value, 0, INT_MAX));
    else if (name == "window")
        r.window_s = read_seconds(key, value);
    else if (name == "stable_after")
        r.stable_after_s = read_seconds(key, value);
    else if (name == "load_error_retries")
        r.load_error_retries = static_cast<int>(read_integer(key, value, 0, INT_MAX));
    else if (name == "jitter")
        r.jitter = read_fraction(key, value);
    else {
        throw SettingsError(key,
                            "unknown key (known: restart.initial_delay, max_delay, "
                            "max_retries, window, stable_after, load_error_retries, jitter)");
    }
}

void check_restart_settings(const RestartSettings& r) {
    if (r.max_delay_s < r.initial_delay_s) {
        throw SettingsError("restart.max_delay", "must not be below restart.initial_delay");
    }
}

}  // namespace plugin_common
