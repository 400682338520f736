// The systemd notification protocol (sd_notify(3)) without libsystemd: datagrams of
// "KEY=value" lines written to the AF_UNIX socket named by NOTIFY_SOCKET (a path, or an
// abstract socket written "@name").
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "supervisor/model_supervisor.hpp"

namespace gradatum::ops {

// Where to notify, read from the environment once.
struct NotifyTarget {
    std::string socket;                     // NOTIFY_SOCKET; empty: not run by systemd
    std::chrono::microseconds watchdog{0};  // WATCHDOG_USEC (0: no watchdog)

    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (a watchdog meant for another pid is
    // ignored) and removes them from the environment, so that children do not inherit them.
    // Call before any thread starts.
    static NotifyTarget from_environment();
};

// Sends one datagram to `socket`. False when `socket` is empty or the send failed.
bool notify(const std::string& socket, const std::string& message);

// What the engine tells systemd over its life: READY=1 once the listeners are up and every
// model has been ready or failed once; STATUS= on each model state change; RELOADING=1 and
// READY=1 around a reload; STOPPING=1; WATCHDOG=1 every WATCHDOG_USEC/2 from its own thread.
// Without NOTIFY_SOCKET it does nothing.
class ServiceNotifier {
  public:
    ServiceNotifier(NotifyTarget target, std::vector<std::string> models);
    ~ServiceNotifier();
    ServiceNotifier(const ServiceNotifier&) = delete;
    ServiceNotifier& operator=(const ServiceNotifier&) = delete;

    // The listeners are up.
    void listening();
    // A model changed state (any thread).
    void model_state(const std::string& model, ModelState state, const std::string& reason);
    void reloading();
    void reloaded();
    void stopping();

  private:
    void send(const std::string& message);
    void ready_if_settled_locked();
    std::string status_locked(const std::string& last) const;

    NotifyTarget target_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<std::string> models_;
    std::vector<bool> settled_;  // ready or failed at least once
    std::vector<ModelState> states_;
    bool listening_ = false;
    bool ready_sent_ = false;
    bool stopping_ = false;
    bool quit_ = false;
    std::thread watchdog_;
};

}  // namespace gradatum::ops
