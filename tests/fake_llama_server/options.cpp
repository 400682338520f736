// Table-driven command-line parser that mimics llama.cpp's common/arg.cpp: same flag names, same
// error messages, exit 1 on any problem.
#include "options.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <stdexcept>

namespace fake {
namespace {

using Setter = std::function<void(Options&, const std::string&)>;

struct Flag {
    std::vector<std::string> names;
    bool takes_value;
    Setter apply;
};

// Stricter than the real std::stoi: "12abc" is rejected rather than read as 12.
int ToInt(const std::string& value) {
    size_t used = 0;
    const int n = std::stoi(value, &used);
    if (used != value.size()) {
        throw std::invalid_argument("invalid value");
    }
    return n;
}

Setter SetInt(int Options::*field) {
    return [field](Options& o, const std::string& v) { o.*field = ToInt(v); };
}

Setter SetString(std::string Options::*field) {
    return [field](Options& o, const std::string& v) { o.*field = v; };
}

Setter SetTrue(bool Options::*field) {
    return [field](Options& o, const std::string&) { o.*field = true; };
}

void SetGpuLayers(Options& o, const std::string& v) {
    if (v != "auto" && v != "all") {
        ToInt(v);  // validate only
    }
    o.n_gpu_layers = v;
}

void SetPooling(Options& o, const std::string& v) {
    static const std::vector<std::string> kAllowed = {"none", "mean", "cls", "last", "rank"};
    if (std::find(kAllowed.begin(), kAllowed.end(), v) == kAllowed.end()) {
        throw std::invalid_argument("invalid value");
    }
    o.pooling = v;
}

// Like the real server: the key is the first line of the file.
void ReadApiKeyFile(Options& o, const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        throw std::invalid_argument("failed to open file '" + path + "'");
    }
    std::getline(in, o.api_key);
}

void PrintVersion(Options&, const std::string&) {
    std::fprintf(stderr, "version: 0.0.0-fake (build 0, commit fake)\n");
    std::fprintf(stderr, "built with fake-llama-server for gradatum-engine tests\n");
    std::exit(0);
}

const std::vector<Flag>& Flags() {
    static const std::vector<Flag> kFlags = {
        {{"-m", "--model"}, true, SetString(&Options::model)},
        {{"--host"}, true, SetString(&Options::host)},
        {{"--port"}, true, SetInt(&Options::port)},
        {{"-c", "--ctx-size"}, true, SetInt(&Options::ctx_size)},
        {{"-t", "--threads"}, true, SetInt(&Options::threads)},
        {{"-ngl", "--gpu-layers", "--n-gpu-layers"}, true, SetGpuLayers},
        {{"-np", "--parallel"}, true, SetInt(&Options::parallel)},
        {{"-mm", "--mmproj"}, true, SetString(&Options::mmproj)},
        {{"--embedding", "--embeddings"}, false, SetTrue(&Options::embeddings)},
        {{"-a", "--alias"}, true, SetString(&Options::alias)},
        {{"--pooling"}, true, SetPooling},
        {{"--metrics"}, false, SetTrue(&Options::metrics)},
        {{"--api-key"}, true, SetString(&Options::api_key)},
        {{"--api-key-file"}, true, ReadApiKeyFile},
        {{"--sse-ping-interval"}, true, SetInt(&Options::sse_ping_interval)},
        {{"--no-ui", "--no-webui"}, false, SetTrue(&Options::no_webui)},
        {{"--threads-http"}, true, SetInt(&Options::threads_http)},
        {{"--version"}, false, PrintVersion},
        {{"--fake-load-ms"}, true, SetInt(&Options::load_ms)},
        {{"--fake-load-progress-ms"}, true, SetInt(&Options::load_progress_ms)},
        {{"--fake-stream-events"}, true, SetInt(&Options::stream_events)},
        {{"--fake-stream-interval-ms"}, true, SetInt(&Options::stream_interval_ms)},
        {{"--fake-crash-after-events"}, true, SetInt(&Options::crash_after_events)},
        {{"--fake-die-before-answer-once"}, true, SetString(&Options::die_before_answer_once)},
        {{"--fake-listener-outlives-ms"}, true, SetInt(&Options::listener_outlives_ms)},
        {{"--fake-exit-at-start"},
         true,
         [](Options& o, const std::string& v) { o.exit_at_start = ToInt(v); }},
        {{"--fake-hang-health-after-ms"}, true, SetInt(&Options::hang_health_after_ms)},
        {{"--fake-hang-generation-after-ms"}, true, SetInt(&Options::hang_generation_after_ms)},
        {{"--fake-argv-file"}, true, SetString(&Options::argv_file)},
        {{"--fake-ignore-sigterm"}, false, SetTrue(&Options::ignore_sigterm)},
        {{"--fake-response-delay-ms"}, true, SetInt(&Options::response_delay_ms)},
        {{"--fake-stamp-events"}, false, SetTrue(&Options::stamp_events)},
        {{"--fake-no-accel-buffering"}, false, SetTrue(&Options::no_accel_buffering)},
    };
    return kFlags;
}

const Flag* FindFlag(const std::string& name) {
    for (const Flag& flag : Flags()) {
        if (std::find(flag.names.begin(), flag.names.end(), name) != flag.names.end()) {
            return &flag;
        }
    }
    return nullptr;
}

[[noreturn]] void Fail(const std::string& message) {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::exit(1);
}

}  // namespace

Options ParseOptions(int argc, char** argv) {
    Options options;
    // The real server falls back to the API key in the environment.
    if (const char* env_key = std::getenv("LLAMA_API_KEY")) {
        options.api_key = env_key;
    }
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        // llama.cpp accepts --n_gpu_layers as --n-gpu-layers.
        if (arg.rfind("--", 0) == 0) {
            std::replace(arg.begin(), arg.end(), '_', '-');
        }
        const Flag* flag = FindFlag(arg);
        if (flag == nullptr) {
            Fail("error: invalid argument: " + arg);
        }
        std::string value;
        if (flag->takes_value) {
            if (i + 1 >= argc) {
                Fail("error while handling argument \"" + arg + "\": expected value for argument");
            }
            value = argv[++i];
        }
        try {
            flag->apply(options, value);
        } catch (const std::exception& e) {
            Fail("error while handling argument \"" + arg + "\": " + e.what());
        }
    }
    return options;
}

}  // namespace fake
