// The restart.* keys under models.<name>., the same for every backend that spawns a child.
#pragma once

#include <string>

namespace plugin_common {

struct RestartSettings {
    double initial_delay_s = 0.5;
    double max_delay_s = 30;
    int max_retries = 5;  // restarts allowed within `window_s`
    double window_s = 300;
    double stable_after_s = 60;  // ready this long: the budget starts over
    int load_error_retries = 2;  // a model that will not load is a config problem, not a crash
    double jitter = 0.2;         // +/- fraction of each delay
};

inline bool is_restart_key(const std::string& key) {
    return key.rfind("restart.", 0) == 0;
}

// Reads one restart.* key into `r`; throws SettingsError for an unknown name or a bad value.
void read_restart_key(const std::string& key, const std::string& value, RestartSettings& r);

// What only the keys together can get wrong; throws SettingsError. Call after the last key.
void check_restart_settings(const RestartSettings& r);

}  // namespace plugin_common
