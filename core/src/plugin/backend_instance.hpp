// C++ view of a backend plugin instance: the core's side of plugin_abi.h.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "backend_types.hpp"
#include "config/config.hpp"
#include "gradatum/plugin_abi.h"

namespace gradatum {

class Plugin;

// A plugin call failed at run time (not a config error).
class BackendError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// One model's plugin instance. Not thread-safe: the model's supervisor thread makes every call.
class BackendInstance {
  public:
    // Validates the model's backend config; throws ConfigError naming config_file and the key
    // (also models.<name>.liveness.generate when the plugin offers no generation probe, and
    // models.<name>.ttl for an instance without a process).
    BackendInstance(const Plugin& plugin, const ModelSettings& model,
                    const std::string& config_file);
    ~BackendInstance();
    BackendInstance(const BackendInstance&) = delete;
    BackendInstance& operator=(const BackendInstance&) = delete;

    // `state_dir`: the model's cache directory (models.<name>.keep_cache), or "".
    SpawnSpec spawn_spec(const std::string& host, uint16_t port, const std::string& state_dir = "");
    Target target(const std::string& host, uint16_t port, const std::string& state_dir = "");
    ProbeRequest probe_request();
    // The plugin's one-token generation probe (ABI 1.2); nothing when the plugin has none.
    std::optional<ProbeRequest> generation_probe_request();
    bool has_generation_probe() const;
    ProbeVerdict probe_verdict(int status, const std::string& body);
    ExitDecision on_exit(const ExitInfo& info);
    // The plugin's handover conversation (ABI 1.4): the next request to send the child, given
    // the answer to the last one (nothing on the first call); nothing when it is done. Throws
    // BackendError when the plugin fails a step.
    std::optional<ProbeRequest> handover_step(HandoverPoint point,
                                              const std::optional<ProbeAnswerView>& previous);
    bool has_handover() const;
    // False for an instance that declared GE_BACKEND_NO_PROCESS (ABI 1.3): a remote target that
    // is probed and forwarded to, never spawned. Fixed for the instance's life.
    bool has_process() const { return (capabilities_ & GE_BACKEND_NO_PROCESS) == 0; }

    const std::string& plugin_id() const;

  private:
    const Plugin& plugin_;
    std::string model_name_;
    ge_instance* instance_ = nullptr;
    uint32_t capabilities_ = 0;  // GE_BACKEND_* flags, read once after create
};

}  // namespace gradatum
