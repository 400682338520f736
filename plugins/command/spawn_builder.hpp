// One spawn of a command backend: its argv and environment with the placeholders filled in.
#pragma once

#include <string>
#include <vector>

#include "placeholders.hpp"
#include "settings.hpp"

namespace command {

std::vector<std::string> build_argv(const Settings& s, const PlaceholderValues& values);

// NAME=value entries (added to the engine's environment): command.env.*, then the port in
// command.port_env and `key` in command.key_env when they are set.
std::vector<std::string> build_env(const Settings& s, const PlaceholderValues& values,
                                   const std::string& key);

}  // namespace command
