// llama-server's command line and environment for one model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "settings.hpp"

namespace llama_server {

std::vector<std::string> build_argv(const Settings& s, const std::string& host, uint16_t port);

// NAME=value entries. The API key goes here, not into argv, where every local user could read it
// with ps. `api_key`: the key of this spawn (the configured one or a fresh random one); empty:
// none.
std::vector<std::string> build_env(const Settings& s, const std::string& api_key);
// With the configured key, if any.
std::vector<std::string> build_env(const Settings& s);

}  // namespace llama_server
