// C++ view of a backend plugin instance: the core's side of plugin_abi.h.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "gradatum/config.hpp"
#include "gradatum/plugin_abi.h"

namespace gradatum {

class Plugin;

// A plugin call failed at run time (not a config error).
class BackendError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct SpawnSpec {
    std::string program;  // a path, or a name looked up on PATH
    std::vector<std::string> argv;
    std::vector<std::string> env;  // NAME=value, added to the engine's environment
    std::string workdir;
};

struct Target {
    std::string host;
    uint16_t port = 0;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct ProbeRequest {
    std::string method = "GET";
    std::string path = "/health";
};

enum class ProbeVerdict { loading, ready, failed };

struct ExitInfo {
    int exit_code = -1;
    int signal = 0;
    bool was_ready = false;
    bool stopped_by_core = false;
    uint64_t uptime_ms = 0;
    uint64_t ready_ms = 0;
    uint64_t now_ms = 0;
    std::string stderr_tail;
    std::string core_reason;
};

struct ExitDecision {
    bool restart = false;
    uint32_t delay_ms = 0;
    std::string reason;
};

// One model's plugin instance. Not thread-safe: the model's supervisor thread makes every call.
class BackendInstance {
  public:
    // Validates the model's backend config; throws ConfigError naming config_file and the key.
    BackendInstance(const Plugin& plugin, const ModelSettings& model,
                    const std::string& config_file);
    ~BackendInstance();
    BackendInstance(const BackendInstance&) = delete;
    BackendInstance& operator=(const BackendInstance&) = delete;

    SpawnSpec spawn_spec(const std::string& host, uint16_t port);
    Target target(const std::string& host, uint16_t port);
    ProbeRequest probe_request();
    ProbeVerdict probe_verdict(int status, const std::string& body);
    ExitDecision on_exit(const ExitInfo& info);

    const std::string& plugin_id() const;

  private:
    const Plugin& plugin_;
    std::string model_name_;
    ge_instance* instance_ = nullptr;
};

}  // namespace gradatum
