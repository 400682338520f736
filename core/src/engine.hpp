// The engine: plugins, one supervisor per model, the fleet that decides which run, and the HTTP
// front door. A reload (SIGHUP, POST /admin/reload) swaps in a new configuration without
// touching what did not change.
#pragma once

#include <Poco/Net/ServerSocket.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "proxy/admin_api.hpp"

namespace gradatum {

class Fleet;
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

    using StateObserver =
        std::function<void(const std::string& model, ModelState state, const std::string& reason)>;
    // Told of every model state change (see ModelSupervisor::set_state_observer). Before start().
    void set_state_observer(StateObserver observer);
    std::vector<std::string> model_names() const;
    // The models started with the engine that have a process (systemd's READY=1 waits for
    // these only; a remote target has nothing to load).
    std::vector<std::string> autostart_model_names() const;

    // Binds the listeners (throws ListenError), then starts the models.
    void start();
    // Graceful stop: refuse new work, let in-flight requests finish for server.drain_timeout
    // (cut short as soon as `hurry` turns true), then stop the children and close connections.
    void stop(const std::atomic<bool>& hurry);

    // SIGHUP and POST /admin/reload: re-reads the config file. Unchanged models keep running;
    // changed ones restart after their in-flight requests, removed ones stop after draining,
    // new ones are added; listeners and the TLS certificate follow. A file that does not
    // validate changes nothing: its problems are returned (and logged).
    proxy::ReloadResult reload();

    uint16_t port() const;
    const EngineConfig& config() const { return config_; }

  private:
    struct Http;
    struct Plan;
    std::shared_ptr<ModelSupervisor> make_model(const ModelSettings& settings,
                                                const EngineConfig& config) const;
    Poco::Net::ServerSocket bind(const ListenAddress& listen, const std::string& key) const;
    void publish_routes();
    void retire_later(std::shared_ptr<ModelSupervisor> model);

    EngineConfig config_;
    std::string plugin_dir_;
    std::unique_ptr<PluginRegistry> plugins_;
    std::map<std::string, std::shared_ptr<ModelSupervisor>> models_;  // by name
    std::unique_ptr<Fleet> fleet_;
    std::unique_ptr<Http> http_;
    std::shared_ptr<http::TlsContext> tls_;
    StateObserver observer_;
    std::mutex reload_mutex_;               // one reload at a time
    std::vector<std::thread> retirements_;  // removed and changed models, draining
    bool started_ = false;
    bool stopped_ = false;
};

}  // namespace gradatum
