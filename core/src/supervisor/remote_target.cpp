// The supervisor's half for a backend without a process (GE_BACKEND_NO_PROCESS, ABI 1.3): a
// server somewhere else that the engine only probes and forwards to. Nothing is spawned, signalled
// or waited for. One attempt: target() and the probes from the plugin, readiness polled until it
// passes, then liveness; it ends when the target stops answering (the plugin's on_exit then says
// when to probe again, or to give up) or when the model is stopped.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "gradatum/config_values.hpp"
#include "logging/logging.hpp"
#include "supervisor/http_probe.hpp"
#include "supervisor/model_supervisor.hpp"
#include "supervisor/supervisor_clock.hpp"

namespace gradatum {

namespace {

using std::chrono::milliseconds;
using supervisor_clock::Clock;
using supervisor_clock::monotonic_ms;
using supervisor_clock::ms_since;
using supervisor_clock::readiness_poll_interval;

// Between the probes of a target that a request found gone, until it answers or is down.
constexpr milliseconds kSuspectInterval(100);

std::string url_of(const Target& target) {
    const bool v6 = target.host.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + target.host + "]" : target.host) + ":" +
           std::to_string(target.port);
}

std::string shorten(const std::string& text, size_t max) {
    return text.size() <= max ? text : text.substr(0, max) + "...";
}

std::string what_failed(const ProbeAnswer& answer) {
    return answer.status == 0 ? answer.error : "status " + std::to_string(answer.status);
}

}  // namespace

ExitInfo ModelSupervisor::run_remote_once() {
    // Nothing exits: to on_exit, the attempt is a child the core stopped, for core_reason.
    ExitInfo info;
    info.exit_code = 0;
    info.stopped_by_core = true;
    const auto started = Clock::now();
    Target target;
    ProbeRequest probe;
    ProbeRequest liveness_probe;
    try {
        // No spawn: the context is empty and the plugin names the server (plugin_abi.h).
        target = backend_->target("", 0);
        if (target.host.empty() || target.port == 0) {
            throw BackendError("plugin " + backend_->plugin_id() + " named no host and port for " +
                               "the remote target of model " + settings_.name);
        }
        probe = backend_->probe_request();
        liveness_probe = settings_.liveness.generate
                             ? backend_->generation_probe_request().value_or(probe)
                             : probe;
    } catch (const std::exception& e) {
        info.core_reason = e.what();
        info.now_ms = monotonic_ms();
        return info;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        remote_ = url_of(target);
        child_alive_ = true;  // wait_for_event() wakes on a stop, not on an exit
        probe_now_ = false;   // meant for the attempt before
        child_started_ = started;
    }
    set_state(ModelState::starting, "probing " + remote_ + probe.path);
    if (await_remote_ready(target, probe, info)) {
        info.was_ready = true;
        const auto ready_at = Clock::now();
        watch_remote(target, liveness_probe, info);
        info.ready_ms = ms_since(ready_at);
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        child_alive_ = false;
    }
    info.uptime_ms = ms_since(started);
    info.now_ms = monotonic_ms();
    return info;
}

// Ready when the plugin says so. A target that does not answer at all liveness.failures probes
// in a row is unreachable; one that answers "loading" is waited for up to ready_timeout (in
// total: there is no output to count as progress).
bool ModelSupervisor::await_remote_ready(const Target& target, const ProbeRequest& probe,
                                         ExitInfo& info) {
    const auto started = Clock::now();
    const auto probe_timeout = std::min(settings_.liveness.timeout, milliseconds(2000));
    const std::string where = url_of(target) + probe.path;
    int unanswered = 0;
    while (true) {
        if (stop_requested()) {
            leave_remote(stop_reason(), info);
            return false;
        }
        ProbeAnswer answer = http_probe(target.host, target.port, probe, probe_timeout);
        ProbeVerdict verdict = backend_->probe_verdict(answer.status, answer.body);
        if (verdict == ProbeVerdict::ready) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                target_ = target;
                ++generation_;
                ++ready_count_;
                last_load_ms_ = ms_since(started);
            }
            set_state(ModelState::ready, "probe " + where + " answered " +
                                             std::to_string(answer.status) + " after " +
                                             std::to_string(ms_since(started)) + " ms");
            return true;
        }
        if (verdict == ProbeVerdict::failed) {
            info.core_reason = "readiness probe " + where + " answered " +
                               std::to_string(answer.status) + ": " + shorten(answer.body, 200);
            return false;
        }
        unanswered = answer.status == 0 ? unanswered + 1 : 0;
        if (unanswered >= settings_.liveness.failures) {
            // restart_cause() reads this prefix as "unreachable".
            info.core_reason = "no answer from " + where + ": " + answer.error;
            return false;
        }
        if (Clock::now() - started >= settings_.ready_timeout) {
            info.core_reason = "not ready after " +
                               config_values::format_seconds(settings_.ready_timeout) +
                               " (ready_timeout): " + where + " answered " + what_failed(answer);
            return false;
        }
        wait_for_event(readiness_poll_interval(started));
    }
}

bool ModelSupervisor::take_probe_now() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(probe_now_, false);
}

// Liveness: every liveness.interval; quickly (kSuspectInterval) once a request found the target
// gone, so that its requests learn of an outage in about liveness.failures probes, not
// liveness.interval times as many.
void ModelSupervisor::watch_remote(const Target& target, const ProbeRequest& probe,
                                   ExitInfo& info) {
    int failures = 0;
    bool suspect = false;
    while (true) {
        wait_for_event(suspect ? kSuspectInterval : settings_.liveness.interval);
        if (stop_requested()) {
            leave_remote(stop_reason(), info);
            return;
        }
        suspect = take_probe_now() || suspect;
        ProbeAnswer answer =
            http_probe(target.host, target.port, probe, settings_.liveness.timeout);
        if (backend_->probe_verdict(answer.status, answer.body) == ProbeVerdict::ready) {
            failures = 0;
            suspect = false;
            continue;
        }
        ++failures;
        logging::for_model(settings_.name)
            ->warn("liveness probe of {} failed ({}/{}): {}", url_of(target) + probe.path, failures,
                   settings_.liveness.failures, what_failed(answer));
        if (failures >= settings_.liveness.failures) {
            info.core_reason = "liveness probe failed " + std::to_string(failures) +
                               " times in a row: " + what_failed(answer);
            // As for a child the core stops: the requests still on the target are cut, not left
            // to hang on a server that stopped answering.
            in_flight_.abort_all();
            return;
        }
    }
}

// Stopped or unloaded: nothing to kill, but the engine's connections to the target are closed
// (after the fleet's drain), as for a child.
void ModelSupervisor::leave_remote(const std::string& reason, ExitInfo& info) {
    info.core_reason = reason;
    set_state(ModelState::stopping, reason);
    in_flight_.abort_all();
}

}  // namespace gradatum
