// One model's lifecycle: stopped → starting → ready → (backoff | failed | stopping).
// A control thread owns the child: it spawns it, polls readiness, checks liveness, stops it, and
// asks the plugin what to do when it exits. The proxy only calls admit().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "plugin/backend_instance.hpp"
#include "supervisor/in_flight.hpp"

namespace gradatum {

class ChildProcess;

enum class ModelState { stopped, starting, ready, backoff, failed, stopping };
const char* to_string(ModelState state);

// What the proxy may do with a request for this model.
struct Admission {
    bool admitted = false;
    // When admitted: where to send it, and the ticket that keeps it counted as in flight.
    Target target;
    std::unique_ptr<InFlight::Ticket> ticket;
    // When refused: an OpenAI-style error.
    int status = 503;
    std::string error_type;
    std::string message;
    int retry_after_s = 0;
};

class ModelSupervisor {
  public:
    ModelSupervisor(ModelSettings settings, std::unique_ptr<BackendInstance> backend);
    ~ModelSupervisor();
    ModelSupervisor(const ModelSupervisor&) = delete;
    ModelSupervisor& operator=(const ModelSupervisor&) = delete;

    void start();
    // Stops the child (closing in-flight upstream connections first) and the control thread.
    void request_stop();
    void join();

    // Admits a request: at once when ready; while a restart is under way, waits up to
    // queue_timeout; refuses while the first load runs, when failed, or when stopping.
    Admission admit();

    ModelState state() const;
    std::string state_reason() const;
    const std::string& name() const { return settings_.name; }
    InFlight& in_flight() { return in_flight_; }

  private:
    void run();
    // The restart loop; throws on a failure that is not the child's (the plugin, the system).
    void supervise();
    // Enters `failed` and waits for the engine's stop.
    void fail_until_stopped(const std::string& reason);
    ExitInfo run_child_once();
    // Returns true when the child became ready; false when it exited or had to be stopped.
    bool await_ready(ChildProcess& child, const Target& target, const ProbeRequest& probe,
                     ExitInfo& info);
    void watch_liveness(ChildProcess& child, const Target& target, const ProbeRequest& probe,
                        ExitInfo& info);
    void stop_child(ChildProcess& child, const std::string& reason, ExitInfo& info);
    void set_state(ModelState state, const std::string& reason);
    // Waits on the control condition for `timeout` or until the child exits / a stop is asked.
    void wait_for_event(std::chrono::milliseconds timeout);
    bool stop_requested() const;
    bool child_exited() const;

    ModelSettings settings_;
    std::unique_ptr<BackendInstance> backend_;
    InFlight in_flight_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    ModelState state_ = ModelState::stopped;
    std::string reason_;
    bool stop_ = false;
    bool child_alive_ = false;
    bool ever_ready_ = false;
    Target target_;
    std::thread thread_;
};

}  // namespace gradatum
