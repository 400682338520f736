// server.cache_dir: where models with keep_cache keep their state between children.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/validator.hpp"

namespace gradatum::config {

// The directory, absolute, when some model has keep_cache (else "", and the key is only checked
// for being absolute). Default: $XDG_CACHE_HOME/gradatum-engine/state, else
// $HOME/.cache/gradatum-engine/state. It need not exist yet (the engine creates it), but it must
// be a directory the engine can write to, or be creatable in one. Nothing is created here.
std::string resolve_cache_dir(const Validator& v, const std::vector<ModelSettings>& models);

// The model's own directory under `cache_dir`.
std::string model_cache_dir(const std::string& cache_dir, const std::string& model);

}  // namespace gradatum::config
