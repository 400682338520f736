// One model's lifecycle: stopped → starting → ready → (backoff | failed | stopping) → stopped.
// A control thread owns the child: it spawns it, polls readiness, checks liveness, stops it, and
// asks the plugin what to do when it exits. It runs a child while the model is loaded (load()
// until unload()); the fleet decides when. The proxy calls admit() for each request.
// A backend without a process (GE_BACKEND_NO_PROCESS, see supervisor/remote_target.cpp) has the
// same states, but nothing is spawned or killed: the target is only probed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "config/config.hpp"
#include "plugin/backend_instance.hpp"
#include "supervisor/in_flight.hpp"

namespace gradatum {

class ChildProcess;

enum class ModelState { stopped, starting, ready, backoff, failed, stopping };
const char* to_string(ModelState state);

// Why a request was not admitted (the proxy words the answer).
enum class Refusal {
    none,
    loading,           // the first load is under way
    restart_timeout,   // it was restarting and did not come back within queue_timeout
    too_many_waiting,  // it is restarting and max_waiting requests already wait for it
    failed,            // it gave up (state_reason() says why)
    unreachable,       // a remote target (no process) is down: backoff until a probe passes
    stopping,          // the engine is stopping
    not_loaded,        // it is not loaded (the fleet starts it first)
    // The fleet's (see supervisor/fleet.hpp); Admission::failure says more.
    queue_full,     // max_concurrent requests run and max_queued wait: 429
    queue_timeout,  // waited queue_timeout for one of max_concurrent: 429
    no_room,        // could not be started in time: the models in its way stayed busy
    start_timeout,  // started, but not ready in time
    client_gone,    // the client left while it waited
};

// What the proxy may do with a request for this model.
struct Admission {
    bool admitted() const { return refusal == Refusal::none; }
    Refusal refusal = Refusal::none;
    // When admitted: where to send it, the child it goes to (a number that grows with each
    // child that became ready), and the ticket that keeps it counted as in flight.
    Target target;
    uint64_t generation = 0;
    pid_t pid = 0;  // the child's process; 0 for a backend without one
    std::unique_ptr<InFlight::Ticket> ticket;
    std::string failure;  // Refusal::failed: the reason
};

// A model's counters and state at one moment, for the admin API and the tests.
struct ModelStatus {
    ModelState state = ModelState::stopped;
    std::string reason;
    pid_t pid = 0;  // 0: no child
    uint16_t port = 0;
    std::string remote;  // a backend without a process: "http://host:port", else ""

    uint64_t uptime_ms = 0;  // of the current child (a remote: of the current attempt)
    uint64_t starts = 0;     // children spawned
    uint64_t restarts = 0;   // restarts granted by the plugin's policy
    uint64_t ready_count = 0;
    std::string last_exit;   // "killed by signal 9 (SIGKILL)", or "" if none exited yet
    int last_exit_code = 0;  // -1 when killed by a signal
    int last_exit_signal = 0;
    double last_load_s = 0;  // spawn to ready, the last time it became ready
    std::map<std::string, uint64_t> restarts_by_reason;  // see restart_cause()
    size_t in_flight = 0;
    size_t waiting = 0;   // requests waiting for a restart
    bool loaded = false;  // between load() and unload()
};

// What ended a child, for the restarts metric: exec_failed, spawn_failed, liveness,
// ready_timeout, probe_failed, unreachable (a remote target without an answer), stopped, signal,
// exited (after being ready) or load_failed.
std::string restart_cause(const ExitInfo& info);

class ModelSupervisor {
  public:
    ModelSupervisor(ModelSettings settings, std::unique_ptr<BackendInstance> backend);
    ~ModelSupervisor();
    ModelSupervisor(const ModelSupervisor&) = delete;
    ModelSupervisor& operator=(const ModelSupervisor&) = delete;

    // Called after every state change, on the thread that made it, outside the lock (the
    // engine's systemd STATUS). Set before start().
    using StateObserver =
        std::function<void(const std::string& model, ModelState state, const std::string& reason)>;
    void set_state_observer(StateObserver observer) { observer_ = std::move(observer); }

    // Starts the control thread; the model runs a child once load() is called.
    void start();
    // Stops the child (closing in-flight upstream connections first) and the control thread.
    // `save_state`: false skips keep_cache's save (the engine was told to hurry).
    void request_stop(bool save_state = true);
    void join();

    // Run a child (and restart it by the plugin's policy) from now on. No-op when loaded.
    void load();
    // Stop the child (closing the connections of requests still in flight: drain first) and
    // stay stopped until the next load(). `reason` is logged.
    void unload(const std::string& reason);
    bool loaded() const;
    // Loaded, and its child has been ready since (requests need not wait for the load).
    bool ready_since_load() const;
    // Has a child, or is about to: it counts against server.max_running and exclusive groups.
    // Never for a backend without a process.
    bool occupies_slot() const;
    // False for a remote target (the plugin's GE_BACKEND_NO_PROCESS): nothing to spawn or stop.
    bool has_process() const { return has_process_; }
    // Called after every state change, like the observer; the fleet waits on it. Before start().
    void set_change_hook(std::function<void()> hook) { change_hook_ = std::move(hook); }
    // The child's last output lines (stdout and stderr), oldest first, at most `lines`.
    std::vector<std::string> log_tail(size_t lines) const;

    // Admits a request: at once when ready; while a restart is under way, waits up to
    // queue_timeout (at most max_waiting requests at a time); refuses while the first load runs,
    // when failed, or when stopping. `after_generation`: the child of that generation is known to
    // be gone (a connection to it was refused), so wait for a newer one as for a restart.
    Admission admit(uint64_t after_generation = 0);
    // Admits a request only if the model serves now (no wait for a restart), else nothing.
    std::optional<Admission> admit_now();
    ModelStatus status() const;
    // Where the ready child listens (with the headers it needs), or nothing if none is ready.
    std::optional<Target> serving_target() const;
    const ModelSettings& settings() const { return settings_; }

    ModelState state() const;
    std::string state_reason() const;
    const std::string& name() const { return settings_.name; }
    InFlight& in_flight() { return in_flight_; }

  private:
    void run();
    // The restart loop; throws on a failure that is not the child's (the plugin, the system).
    void supervise();
    // Enters `failed` and waits for the engine's stop or an unload().
    void fail_until_unloaded(const std::string& reason);
    // Why the child is being stopped now: the engine's stop or the unload() reason.
    std::string stop_reason() const;
    ExitInfo run_child_once();
    // Returns true when the child became ready; false when it exited or had to be stopped.
    bool await_ready(ChildProcess& child, const Target& target, const ProbeRequest& probe,
                     ExitInfo& info);
    void watch_liveness(ChildProcess& child, const Target& target, const ProbeRequest& probe,
                        ExitInfo& info);
    // `announce`: enter `stopping` with the reason (false: already there, see save_state).
    void stop_child(ChildProcess& child, const std::string& reason, ExitInfo& info,
                    bool announce = true);
    // keep_cache: a planned stop of a ready child hands its state to the next child (the
    // plugin's handover, see supervisor/handover.hpp). Returns true when it entered `stopping`.
    bool save_state(const Target& target, const std::string& reason);
    void restore_state(const Target& target);
    // A backend without a process (supervisor/remote_target.cpp): one attempt, from the first
    // probe to the failure or stop that ends it.
    ExitInfo run_remote_once();
    bool await_remote_ready(const Target& target, const ProbeRequest& probe, ExitInfo& info);
    void watch_remote(const Target& target, const ProbeRequest& probe, ExitInfo& info);
    void leave_remote(const std::string& reason, ExitInfo& info);
    // A request found the remote target gone (admit with its generation): probe it now.
    bool take_probe_now();
    void set_state(ModelState state, const std::string& reason);
    // Waits on the control condition for `timeout` or until the child exits / a stop is asked.
    void wait_for_event(std::chrono::milliseconds timeout);
    // The engine's stop, or an unload(): the child must go.
    bool stop_requested() const;
    bool stopped_for_engine() const;
    bool child_exited() const;

    ModelSettings settings_;
    std::unique_ptr<BackendInstance> backend_;
    const bool has_process_;
    InFlight in_flight_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    ModelState state_ = ModelState::stopped;
    std::string reason_;
    bool stop_ = false;
    bool loaded_ = false;
    uint64_t load_epoch_ = 0;     // counts load()s
    uint64_t running_epoch_ = 0;  // the load() the control thread's current run serves
    std::string unload_reason_;
    bool child_alive_ = false;  // a remote: an attempt is under way (nothing to exit)
    bool ever_ready_ = false;
    Target target_;
    uint64_t generation_ = 0;  // of the child that is (or was last) ready
    size_t waiting_ = 0;
    pid_t child_pid_ = 0;
    uint16_t child_port_ = 0;
    std::string remote_;      // ModelStatus::remote
    bool probe_now_ = false;  // see take_probe_now()
    bool skip_save_ = false;  // request_stop(false)
    // The model's cache directory as given to the current child ("" when keep_cache is off or
    // it could not be created). Control thread only.
    std::string child_state_dir_;
    std::chrono::steady_clock::time_point child_started_{};
    uint64_t starts_ = 0;
    uint64_t restarts_ = 0;
    uint64_t ready_count_ = 0;
    std::string last_exit_;
    int last_exit_code_ = 0;
    int last_exit_signal_ = 0;
    uint64_t last_load_ms_ = 0;
    std::map<std::string, uint64_t> restarts_by_reason_;
    StateObserver observer_;
    std::function<void()> change_hook_;
    std::thread thread_;

    // The child's output while it loads: every line is progress (see await_ready). Its own
    // mutex: the relay thread takes it for each line.
    void note_output(const std::string& line);
    mutable std::mutex output_mutex_;
    std::chrono::steady_clock::time_point last_output_{};
    std::string last_line_;
    std::deque<std::string> log_lines_;  // for GET /admin/models/<name>/log
};

}  // namespace gradatum
