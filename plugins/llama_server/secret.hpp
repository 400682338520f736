// The per-spawn secret: when no llama_server.api_key is configured, every child gets a fresh
// random key, so a local user who finds its loopback port cannot use it.
#pragma once

#include "common/random_key.hpp"

namespace llama_server {

using plugin_common::kSpawnKeyBytes;
using plugin_common::random_key;

}  // namespace llama_server
