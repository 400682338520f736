// The llama_server plugin's view of a model's config, validated.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/restart_settings.hpp"
#include "common/settings_error.hpp"

namespace llama_server {

// A config key is wrong. `key` is relative to models.<name>. (e.g. "llama_server.model").
using plugin_common::SettingsError;
// The restart.* keys, shared with the other backends.
using plugin_common::RestartSettings;

struct Settings {
    std::string binary = "llama-server";  // resolved to an absolute path by `parse`
    std::string model;
    std::optional<long long> ctx_size, threads, parallel;
    std::optional<std::string> n_gpu_layers;  // a number, "auto" or "all"
    std::optional<std::string> mmproj, alias, api_key;
    bool embeddings = false;
    std::vector<std::string> extra_args;
    RestartSettings restart;
};

// Resolves a program the way the core will exec it; nullopt if not found.
using ProgramFinder = std::function<std::optional<std::string>(const std::string&)>;

// `values`: every key under models.<name>. that the core left to the plugin.
// Throws SettingsError for an unknown key, a bad value, a missing model file or binary.
Settings parse_settings(const std::map<std::string, std::string>& values,
                        const ProgramFinder& find_program);

// Splits `args` into words: whitespace separates, '…' and "…" group, \ escapes. No shell.
std::vector<std::string> split_args(const std::string& args);

}  // namespace llama_server
