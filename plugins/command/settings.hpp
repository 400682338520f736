// The command plugin's view of a model's config (models.<name>.command.* and restart.*),
// validated: any OpenAI-compatible server started from a command line.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/restart_settings.hpp"
#include "common/settings_error.hpp"
#include "placeholders.hpp"

namespace command {

using plugin_common::RestartSettings;
using plugin_common::SettingsError;

struct Settings {
    std::string program;                  // argv[0] resolved to an absolute path
    std::vector<Template> argv;           // argv[0] as written, then the arguments
    std::optional<std::string> port_env;  // the port in this environment variable too
    std::optional<std::string> key_env;   // a fresh random key per spawn, in this variable
    std::string health_path = "/health";
    std::set<int> ready_status = {200};
    std::map<std::string, Template> env;                       // NAME -> value
    std::string workdir;                                       // "" = the engine's
    std::vector<std::pair<std::string, std::string>> headers;  // added to forwarded requests
    RestartSettings restart;
};

// Resolves a program the way the core will exec it; nullopt if not found.
using ProgramFinder = std::function<std::optional<std::string>(const std::string&)>;

// `values`: every key under models.<name>. that the core left to the plugin.
// Throws SettingsError naming the key for an unknown key, a bad value, an unknown placeholder,
// a program that cannot be found, a missing working directory, a child that would not learn
// its port.
Settings parse_settings(const std::map<std::string, std::string>& values,
                        const ProgramFinder& find_program);

}  // namespace command
