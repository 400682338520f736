// The llama_server plugin's view of a model's config, validated.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace llama_server {

// A config key is wrong. `key` is relative to models.<name>. (e.g. "llama_server.model").
struct SettingsError : std::runtime_error {
    SettingsError(std::string key, const std::string& message)
        : std::runtime_error(message), key(std::move(key)) {}
    std::string key;
};

struct RestartSettings {
    double initial_delay_s = 0.5;
    double max_delay_s = 30;
    int max_retries = 5;  // restarts allowed within `window_s`
    double window_s = 300;
    double stable_after_s = 60;  // ready this long: the budget starts over
    int load_error_retries = 2;  // a model that will not load is a config problem, not a crash
    double jitter = 0.2;         // +/- fraction of each delay
};

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
