#include "supervisor/model_supervisor.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "gradatum/config_values.hpp"
#include "logging/logging.hpp"
#include "process/child_process.hpp"
#include "supervisor/child_port.hpp"
#include "supervisor/handover.hpp"
#include "supervisor/http_probe.hpp"
#include "supervisor/state_dir.hpp"
#include "supervisor/supervisor_clock.hpp"

namespace gradatum {

namespace {

using std::chrono::milliseconds;
using supervisor_clock::Clock;
using supervisor_clock::monotonic_ms;
using supervisor_clock::ms_since;
using supervisor_clock::readiness_poll_interval;

const std::string kChildHost = "127.0.0.1";
// After SIGKILL: how long a child may take to be reaped before it counts as stuck.
constexpr milliseconds kKillGrace(5000);
// While a model loads: a "loading m: N s" line this often.
constexpr milliseconds kProgressInterval(5000);
// After the child was seen to exit (or was killed and waited for): the exit notice's last steps.
constexpr milliseconds kExitNoticeGrace(1000);
// Output lines kept for the admin API's log tail.
constexpr size_t kLogLines = 2000;

using config_values::format_seconds;

std::string shorten(const std::string& text, size_t max) {
    return text.size() <= max ? text : text.substr(0, max) + "...";
}

}  // namespace

const char* to_string(ModelState state) {
    switch (state) {
        case ModelState::stopped:
            return "stopped";
        case ModelState::starting:
            return "starting";
        case ModelState::ready:
            return "ready";
        case ModelState::backoff:
            return "backoff";
        case ModelState::failed:
            return "failed";
        case ModelState::stopping:
            return "stopping";
    }
    return "?";
}

ModelSupervisor::ModelSupervisor(ModelSettings settings, std::unique_ptr<BackendInstance> backend)
    : settings_(std::move(settings)),
      backend_(std::move(backend)),
      has_process_(backend_->has_process()) {}

ModelSupervisor::~ModelSupervisor() {
    request_stop();
    join();
}

void ModelSupervisor::start() {
    thread_ = std::thread([this] { run(); });
}

void ModelSupervisor::request_stop(bool save_state) {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    if (!save_state) skip_save_ = true;
    changed_.notify_all();
}

void ModelSupervisor::join() {
    if (thread_.joinable()) thread_.join();
}

ModelState ModelSupervisor::state() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return state_;
}

std::string ModelSupervisor::state_reason() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return reason_;
}

bool ModelSupervisor::stop_requested() const {
    std::lock_guard<std::mutex> lock(mutex_);
    // An unload() followed at once by a load() still ends the current run: its child must go
    // (and its exit is not a crash for the plugin's restart budget).
    return stop_ || !loaded_ || load_epoch_ != running_epoch_;
}

std::string ModelSupervisor::stop_reason() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stop_ || unload_reason_.empty() ? "engine stopping" : unload_reason_;
}

void ModelSupervisor::load() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (loaded_) return;
    loaded_ = true;
    ++load_epoch_;
    ever_ready_ = false;  // a new load: requests meanwhile are not waiting for a restart
    changed_.notify_all();
}

bool ModelSupervisor::loaded() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return loaded_;
}

bool ModelSupervisor::ready_since_load() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return loaded_ && ever_ready_;
}

bool ModelSupervisor::occupies_slot() const {
    if (!has_process_) return false;  // a remote target: nothing runs here
    std::lock_guard<std::mutex> lock(mutex_);
    if (loaded_) return state_ != ModelState::failed;
    return state_ != ModelState::stopped && state_ != ModelState::failed;
}

void ModelSupervisor::unload(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!loaded_) return;
    loaded_ = false;
    unload_reason_ = reason;
    changed_.notify_all();
}

std::vector<std::string> ModelSupervisor::log_tail(size_t lines) const {
    std::lock_guard<std::mutex> lock(output_mutex_);
    size_t n = std::min(lines, log_lines_.size());
    return {log_lines_.end() - static_cast<std::ptrdiff_t>(n), log_lines_.end()};
}

bool ModelSupervisor::child_exited() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return !child_alive_;
}

void ModelSupervisor::set_state(ModelState state, const std::string& reason) {
    ModelState old;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        old = state_;
        state_ = state;
        reason_ = reason;
        if (state == ModelState::ready) ever_ready_ = true;
        changed_.notify_all();
    }
    auto level = state == ModelState::failed ? spdlog::level::err : spdlog::level::info;
    logging::for_model(settings_.name)
        ->log(level, "{} -> {}: {}", to_string(old), to_string(state), reason);
    if (observer_) observer_(settings_.name, state, reason);
    if (change_hook_) change_hook_();
}

void ModelSupervisor::wait_for_event(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, timeout, [&] {
        return stop_ || !loaded_ || load_epoch_ != running_epoch_ || !child_alive_ || probe_now_;
    });
}

Admission ModelSupervisor::admit(uint64_t after_generation) {
    Admission admission;
    std::unique_lock<std::mutex> lock(mutex_);
    auto serving = [&] {
        return state_ == ModelState::ready && child_alive_ && generation_ > after_generation;
    };
    // A remote target found down: answered at once, it comes back only after its backoff.
    auto unreachable = [&] { return !has_process_ && state_ == ModelState::backoff; };
    // Between two children of a model that has served before (stopping counts: the control
    // thread stops a hung or slow child on its way to a restart).
    auto restarting = [&] {
        return ever_ready_ && !stop_ && loaded_ && state_ != ModelState::failed && !serving() &&
               !unreachable();
    };
    // The forwarder found a remote target gone: its liveness would notice only at the next
    // interval, so probe it now (and the request waits as for a restart).
    if (!has_process_ && after_generation != 0 && after_generation == generation_ &&
        state_ == ModelState::ready) {
        probe_now_ = true;
        changed_.notify_all();
    }
    if (restarting()) {
        // Waiting requests hold request threads: past the cap they are answered at once, so
        // that /health and the other models keep their threads.
        if (waiting_ >= settings_.max_waiting) {
            admission.refusal = Refusal::too_many_waiting;
            return admission;
        }
        ++waiting_;
        changed_.wait_for(lock, settings_.queue_timeout, [&] { return !restarting(); });
        --waiting_;
    }
    if (serving()) {
        admission.target = target_;
        admission.generation = generation_;
        admission.pid = has_process_ ? child_pid_ : 0;
        // Under the lock: a stop that starts after this point sees the ticket and aborts it.
        admission.ticket = in_flight_.add();
        return admission;
    }
    if (stop_) {
        admission.refusal = Refusal::stopping;
    } else if (!loaded_) {
        admission.refusal = Refusal::not_loaded;
    } else if (state_ == ModelState::failed) {
        admission.refusal = Refusal::failed;
        admission.failure = reason_;
    } else if (unreachable()) {
        admission.refusal = Refusal::unreachable;
        admission.failure = reason_;
    } else if (ever_ready_) {
        admission.refusal = Refusal::restart_timeout;
    } else {
        admission.refusal = Refusal::loading;
    }
    return admission;
}

std::optional<Admission> ModelSupervisor::admit_now() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ != ModelState::ready || !child_alive_ || generation_ == 0) return std::nullopt;
    Admission admission;
    admission.target = target_;
    admission.generation = generation_;
    admission.pid = has_process_ ? child_pid_ : 0;
    admission.ticket = in_flight_.add();  // under the lock, as in admit()
    return admission;
}

// What ended a child, as a metric label: a short, fixed vocabulary.
std::string restart_cause(const ExitInfo& info) {
    if (info.exec_failed) return "exec_failed";
    if (info.stopped_by_core) {
        if (info.core_reason.find("liveness") != std::string::npos) return "liveness";
        if (info.core_reason.find("ready_timeout") != std::string::npos) return "ready_timeout";
        if (info.core_reason.find("readiness probe") != std::string::npos) return "probe_failed";
        if (info.core_reason.rfind("no answer from", 0) == 0) return "unreachable";
        return "stopped";
    }
    if (!info.core_reason.empty()) return "spawn_failed";
    if (info.signal != 0) return "signal";
    return info.was_ready ? "exited" : "load_failed";
}

std::optional<Target> ModelSupervisor::serving_target() const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ != ModelState::ready || !child_alive_) return std::nullopt;
    return target_;
}

ModelStatus ModelSupervisor::status() const {
    ModelStatus s;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        s.state = state_;
        s.reason = reason_;
        if (child_alive_) {
            s.pid = child_pid_;
            s.port = child_port_;
            s.uptime_ms = ms_since(child_started_);
        }
        s.remote = remote_;
        s.starts = starts_;
        s.restarts = restarts_;
        s.ready_count = ready_count_;
        s.last_exit = last_exit_;
        s.last_exit_code = last_exit_code_;
        s.last_exit_signal = last_exit_signal_;
        s.last_load_s = static_cast<double>(last_load_ms_) / 1000;
        s.restarts_by_reason = restarts_by_reason_;
        s.waiting = waiting_;
        s.loaded = loaded_;
    }
    s.in_flight = in_flight_.count();
    return s;
}

void ModelSupervisor::run() {
    while (true) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            changed_.wait(lock, [&] { return stop_ || loaded_; });
            if (stop_) break;
            running_epoch_ = load_epoch_;
        }
        try {
            supervise();
        } catch (const std::exception& e) {
            // A bug or a resource shortage in the control thread fails this model, not the engine.
            fail_until_unloaded(std::string("internal error in the model's control thread: ") +
                                e.what());
        } catch (...) {
            fail_until_unloaded("internal error in the model's control thread");
        }
        if (stop_requested() && !stopped_for_engine()) {
            set_state(ModelState::stopped, stop_reason());
        }
    }
    set_state(ModelState::stopped, "engine stopping");
}

bool ModelSupervisor::stopped_for_engine() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stop_;
}

void ModelSupervisor::fail_until_unloaded(const std::string& reason) {
    set_state(ModelState::failed, reason);
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return stop_ || !loaded_ || load_epoch_ != running_epoch_; });
}

void ModelSupervisor::supervise() {
    while (!stop_requested()) {
        ExitInfo info = has_process_ ? run_child_once() : run_remote_once();
        if (stop_requested()) break;
        ExitDecision decision = backend_->on_exit(info);
        if (!decision.restart) {
            fail_until_unloaded(decision.reason);
            break;
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ++restarts_;
            ++restarts_by_reason_[restart_cause(info)];
        }
        set_state(ModelState::backoff,
                  decision.reason + (has_process_ ? "; restarting in " : "; probing again in ") +
                      std::to_string(decision.delay_ms) + " ms");
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait_for(lock, milliseconds(decision.delay_ms),
                          [&] { return stop_ || !loaded_ || load_epoch_ != running_epoch_; });
    }
}

ExitInfo ModelSupervisor::run_child_once() {
    ExitInfo info;
    auto spawned = Clock::now();
    SpawnSpec spec;
    Target target;
    ProbeRequest probe;
    ProbeRequest liveness_probe;
    uint16_t port = 0;
    try {
        port = pick_child_port(kChildHost);
        child_state_dir_.clear();
        if (!settings_.state_dir.empty()) {
            try {
                ensure_state_dir(settings_.state_dir);
                child_state_dir_ = settings_.state_dir;
            } catch (const std::exception& e) {
                logging::for_model(settings_.name)
                    ->error("keep_cache: {}; this child starts without its saved state", e.what());
            }
        }
        spec = backend_->spawn_spec(kChildHost, port, child_state_dir_);
        target = backend_->target(kChildHost, port, child_state_dir_);
        probe = backend_->probe_request();
        // liveness.generate: the engine refused the config if the plugin has no such probe.
        liveness_probe = settings_.liveness.generate
                             ? backend_->generation_probe_request().value_or(probe)
                             : probe;
    } catch (const std::exception& e) {
        info.core_reason = e.what();
        info.stopped_by_core = true;
        info.now_ms = monotonic_ms();
        return info;
    }
    set_state(ModelState::starting,
              "starting " + spec.program + " on port " + std::to_string(port));

    std::unique_ptr<ChildProcess> child;
    const std::string& model = settings_.name;
    try {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            child_alive_ = true;
        }
        {
            std::lock_guard<std::mutex> lock(output_mutex_);
            last_output_ = Clock::now();
            last_line_.clear();
        }
        child = ChildProcess::spawn(
            spec,
            [this, model](bool, const std::string& line) {
                note_output(line);
                logging::for_child(model)->info("{}", line);  // never blocks: see logging.hpp
                if (size_t dropped = logging::take_dropped()) {
                    spdlog::warn("{} log line(s) dropped: stderr is not keeping up", dropped);
                }
            },
            [this](const ExitStatus&) {
                std::lock_guard<std::mutex> lock(mutex_);
                child_alive_ = false;
                changed_.notify_all();
            });
    } catch (const SpawnError& e) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            child_alive_ = false;
        }
        logging::for_model(model)->error("{}", e.what());
        info.exit_code = 127;
        info.exec_failed = e.exec_failed();
        info.core_reason = e.what();
        info.now_ms = monotonic_ms();
        return info;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        child_pid_ = child->pid();
        child_port_ = port;
        child_started_ = spawned;
        ++starts_;
    }
    logging::for_model(model)->info("child pid {} started", child->pid());

    if (await_ready(*child, target, probe, info)) {
        info.was_ready = true;
        auto ready_at = Clock::now();
        watch_liveness(*child, target, liveness_probe, info);
        info.ready_ms = ms_since(ready_at);
    }
    // The child has exited, or stop_child() has SIGKILLed it: a child that is still there is
    // stuck in the kernel. The ChildProcess destructor leaves it behind instead of hanging.
    child->wait_exit(kExitNoticeGrace);
    ExitStatus status = child->exit_status().value_or(ExitStatus{});
    info.exit_code = status.code;
    info.signal = status.signal;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        last_exit_ = child->exit_status() ? status.describe() : "did not exit after SIGKILL";
        last_exit_code_ = status.code;
        last_exit_signal_ = status.signal;
    }
    info.stderr_tail = child->stderr_tail();
    info.uptime_ms = ms_since(spawned);
    info.now_ms = monotonic_ms();
    if (!info.stopped_by_core) {
        logging::for_model(model)->error(
            "child pid {} {} after {} ms{}{}", child->pid(), status.describe(), info.uptime_ms,
            info.was_ready ? "" : " while loading",
            info.stderr_tail.empty() ? "" : "; last stderr lines:\n" + info.stderr_tail);
    } else {
        logging::for_model(model)->info("child pid {} {} ({})", child->pid(), status.describe(),
                                        info.core_reason);
    }
    return info;
}

void ModelSupervisor::note_output(const std::string& line) {
    std::lock_guard<std::mutex> lock(output_mutex_);
    last_output_ = Clock::now();
    if (!line.empty()) last_line_ = line;
    log_lines_.push_back(line);
    if (log_lines_.size() > kLogLines) log_lines_.pop_front();
}

// ready_timeout is the longest time without progress, not the total: every line the child
// prints while loading (tensors, warm-up, ...) moves the deadline, so a slow but moving load is
// not killed, while a silent one is.
bool ModelSupervisor::await_ready(ChildProcess& child, const Target& target,
                                  const ProbeRequest& probe, ExitInfo& info) {
    auto spawned = Clock::now();
    auto next_progress_log = spawned + kProgressInterval;
    auto probe_timeout = std::min(settings_.liveness.timeout, milliseconds(2000));
    while (true) {
        if (child_exited()) return false;
        if (stop_requested()) {
            stop_child(child, stop_reason(), info);
            return false;
        }
        Clock::time_point last_output;
        std::string last_line;
        {
            std::lock_guard<std::mutex> lock(output_mutex_);
            last_output = std::max(last_output_, spawned);
            last_line = last_line_;
        }
        auto now = Clock::now();
        if (now >= last_output + settings_.ready_timeout) {
            stop_child(child,
                       "not ready after " + format_seconds(settings_.ready_timeout) +
                           " without progress (ready_timeout; loading for " +
                           format_seconds(std::chrono::duration_cast<milliseconds>(now - spawned)) +
                           (last_line.empty() ? "" : "; last line: " + shorten(last_line, 200)) +
                           ")",
                       info);
            return false;
        }
        if (now >= next_progress_log) {
            auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - spawned).count();
            logging::for_model_plain(settings_.name)
                ->info("loading {}: {} s{}", settings_.name, seconds,
                       last_line.empty() ? "" : "; llama-server: " + shorten(last_line, 200));
            next_progress_log += kProgressInterval;
        }
        ProbeAnswer answer = http_probe(target.host, target.port, probe, probe_timeout);
        ProbeVerdict verdict = backend_->probe_verdict(answer.status, answer.body);
        if (verdict == ProbeVerdict::ready && !child_exited()) {
            if (!child_state_dir_.empty()) {
                restore_state(target);
                if (child_exited()) return false;
            }
            {
                std::lock_guard<std::mutex> lock(mutex_);
                target_ = target;
                ++generation_;
                ++ready_count_;
                last_load_ms_ = ms_since(spawned);
            }
            set_state(ModelState::ready, "probe " + probe.path + " answered " +
                                             std::to_string(answer.status) + " after " +
                                             std::to_string(ms_since(spawned)) + " ms");
            return true;
        }
        if (verdict == ProbeVerdict::failed) {
            stop_child(child,
                       "readiness probe " + probe.path + " answered " +
                           std::to_string(answer.status) + ": " + shorten(answer.body, 200),
                       info);
            return false;
        }
        wait_for_event(readiness_poll_interval(spawned));
    }
}

void ModelSupervisor::watch_liveness(ChildProcess& child, const Target& target,
                                     const ProbeRequest& probe, ExitInfo& info) {
    int failures = 0;
    auto interval = settings_.liveness.interval;
    auto timeout = settings_.liveness.timeout;
    while (true) {
        wait_for_event(interval);
        if (child_exited()) return;
        if (stop_requested()) {
            std::string reason = stop_reason();
            bool saved = save_state(target, reason);
            if (child_exited()) return;
            stop_child(child, reason, info, /*announce=*/!saved);
            return;
        }
        ProbeAnswer answer = http_probe(target.host, target.port, probe, timeout);
        if (backend_->probe_verdict(answer.status, answer.body) == ProbeVerdict::ready) {
            failures = 0;
            continue;
        }
        ++failures;
        std::string what =
            answer.status == 0 ? answer.error : "status " + std::to_string(answer.status);
        logging::for_model(settings_.name)
            ->warn("liveness probe failed ({}/{}): {}", failures, settings_.liveness.failures,
                   what);
        if (failures >= settings_.liveness.failures) {
            stop_child(child,
                       "liveness probe failed " + std::to_string(failures) + " times in a row",
                       info);
            return;
        }
    }
}

bool ModelSupervisor::save_state(const Target& target, const std::string& reason) {
    if (child_state_dir_.empty()) return false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (skip_save_) return false;
    }
    // Stopping first: no new request is let in while the state is written.
    set_state(ModelState::stopping, reason + "; saving its state first (keep_cache)");
    auto started = Clock::now();
    run_handover(*backend_, HandoverPoint::save, target, settings_.cache_timeout, settings_.name);
    auto took = ms_since(started);
    uint64_t max_bytes = static_cast<uint64_t>(settings_.cache_max_mb) << 20;
    for (const auto& dropped : prune_state_dir(child_state_dir_, max_bytes)) {
        logging::for_model(settings_.name)
            ->info("dropped {} ({:.1f} MB) from {}: over cache_max_mb ({} MB)", dropped.name,
                   static_cast<double>(dropped.bytes) / (1 << 20), child_state_dir_,
                   settings_.cache_max_mb);
    }
    logging::for_model(settings_.name)->debug("state saved in {} ms", took);
    return true;
}

void ModelSupervisor::restore_state(const Target& target) {
    run_handover(*backend_, HandoverPoint::restore, target, settings_.cache_timeout,
                 settings_.name);
}

void ModelSupervisor::stop_child(ChildProcess& child, const std::string& reason, ExitInfo& info,
                                 bool announce) {
    info.stopped_by_core = true;
    info.core_reason = reason;
    if (announce) set_state(ModelState::stopping, reason);
    // llama-server keeps a stream (or a non-streaming client) open after SIGTERM: close the
    // engine's connections to it first, so it can exit.
    in_flight_.abort_all();
    child.signal_group(SIGTERM);
    auto stop_timeout = settings_.stop_timeout;
    if (!child.wait_exit(stop_timeout)) {
        logging::for_model(settings_.name)
            ->warn("child pid {} did not exit {} ms after SIGTERM; sending SIGKILL", child.pid(),
                   stop_timeout.count());
        child.signal_group(SIGKILL);
        if (!child.wait_exit(kKillGrace)) {
            logging::for_model(settings_.name)
                ->error(
                    "child pid {} did not exit {} ms after SIGKILL (stuck in the kernel?); "
                    "giving up on it",
                    child.pid(), kKillGrace.count());
            info.core_reason += "; did not exit after SIGKILL";
        }
    }
}

}  // namespace gradatum
