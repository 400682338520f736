// Per-spawn secrets: a child that gets a fresh random key at every start never accepts the key
// of the one before, and a local user who finds its loopback port cannot use it.
#pragma once

#include <cstddef>
#include <string>

namespace plugin_common {

// Bytes of randomness in a spawn key: 256 bits.
inline constexpr size_t kSpawnKeyBytes = 32;

// 2 * kSpawnKeyBytes lower-case hex digits from getrandom(2) (the kernel's CSPRNG; blocks only
// before the pool is first initialised at boot). Throws std::system_error if the kernel refuses.
// Hex: no commas (llama-server splits LLAMA_API_KEY on them), nothing a header must escape.
std::string random_key();

}  // namespace plugin_common
