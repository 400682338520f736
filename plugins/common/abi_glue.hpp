// What every backend plugin's C entry does the same way: errors into ge_error, the config JSON
// into a map, the host's program lookup, and exits and decisions between the ABI's structs and
// the restart policy's.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/restart_policy.hpp"
#include "gradatum/plugin_abi.h"

namespace plugin_common {

void set_error(ge_error* error, const std::string& key, const std::string& message);

// create()'s config_json (every value a string; anything else is taken as its JSON text).
// Throws nlohmann::json::exception when it is not a JSON object.
std::map<std::string, std::string> config_values(const char* config_json);

// The host's services, from init() until deinit(); every plugin has its own copy (this library
// is linked into each, hidden).
const ge_host_api_t* host();
// The entry's init(): refuses a host of another ABI major version, keeps the services.
int32_t init_host(const ge_host_api_t* host, ge_error* error);
void deinit_host();

// Writes a line through the host's log service (a ge_log_level); nothing before init().
void log(int32_t level, const std::string& message);

// The host's find_program service; nullopt when the host has none or finds nothing.
std::optional<std::string> find_program(const ge_host_api_t* host, const std::string& program);

ChildExit child_exit(const ge_exit_info_t& info);
void write_decision(const Decision& decision, ge_exit_decision_t* out);

}  // namespace plugin_common
