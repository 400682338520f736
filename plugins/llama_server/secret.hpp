// The per-spawn secret: when no llama_server.api_key is configured, every child gets a fresh
// random key, so a local user who finds its loopback port cannot use it.
#pragma once

#include <cstddef>
#include <string>

namespace llama_server {

// Bytes of randomness in a spawn key: 256 bits.
inline constexpr size_t kSpawnKeyBytes = 32;

// 2 * kSpawnKeyBytes lower-case hex digits from getrandom(2) (the kernel's CSPRNG; blocks only
// before the pool is first initialised at boot). Throws std::system_error if the kernel refuses.
// Hex, because llama-server splits LLAMA_API_KEY on commas and takes the value verbatim.
std::string random_key();

}  // namespace llama_server
