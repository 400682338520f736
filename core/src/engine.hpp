// The engine: plugins, one supervisor per model, and the HTTP front door.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace gradatum {

class PluginRegistry;
namespace http {
class TlsContext;
}
class ModelSupervisor;
enum class ModelState;

// The listen address cannot be used (in use, not permitted, bad address).
class ListenError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class Engine {
  public:
    // Loads the plugins and validates every model with its plugin. Throws ConfigError.
    Engine(EngineConfig config, const std::string& plugin_dir);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Told of every model state change (see ModelSupervisor::set_state_observer). Before start().
    void set_state_observer(
        std::function<void(const std::string& model, ModelState state, const std::string& reason)>
            observer);
    std::vector<std::string> model_names() const;

    // Binds the listener (throws ListenError) and then starts the models.
    void start();
    // Graceful stop: refuse new work, let in-flight requests finish for server.drain_timeout
    // (cut short as soon as `hurry` turns true), then stop the children and close connections.
    void stop(const std::atomic<bool>& hurry);

    // SIGHUP: re-reads what can change without a restart (today: the TLS certificate and key).
    // A bad new certificate keeps the old one, and says why in the log. False if it failed.
    bool reload();

    uint16_t port() const;
    const EngineConfig& config() const { return config_; }

  private:
    struct Http;
    EngineConfig config_;
    std::unique_ptr<PluginRegistry> plugins_;
    std::vector<std::unique_ptr<ModelSupervisor>> models_;
    std::unique_ptr<Http> http_;
    std::shared_ptr<http::TlsContext> tls_;
    bool stopped_ = false;
};

}  // namespace gradatum
