// A plugin's config key is wrong: the error every settings parser throws, so the C glue can
// report it as GE_ERR_CONFIG with the key.
#pragma once

#include <stdexcept>
#include <string>

namespace plugin_common {

// `key` is relative to models.<name>. (e.g. "llama_server.model", "command.argv").
struct SettingsError : std::runtime_error {
    SettingsError(std::string key, const std::string& message)
        : std::runtime_error(message), key(std::move(key)) {}
    std::string key;
};

}  // namespace plugin_common
