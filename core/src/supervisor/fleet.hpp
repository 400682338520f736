// Which models run, and when. The fleet loads a model for its first request, stops it after its
// ttl idle, and makes room under server.max_running and exclusive groups by stopping the least
// recently used idle model — never a busy one. Models that must take turns are served in turns,
// not one swap per request: a loaded model keeps serving its own requests until a request for
// another model has waited server.max_wait_for_swap; then it takes no new ones, drains, and
// makes room. It also bounds each model's concurrency (max_concurrent, max_queued).
//
// Every decision is taken under one lock, by the requests that wait (and a janitor thread for
// the ttl): no scheduler thread to keep in step with the supervisors.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "supervisor/model_supervisor.hpp"

namespace gradatum {

struct FleetSettings {
    int max_running = 0;  // 0: no limit
    std::chrono::milliseconds max_wait_for_swap{30'000};
    std::set<std::string> exclusive_groups;
};

class Fleet {
    struct Slot;

  public:
    using Clock = std::chrono::steady_clock;

    explicit Fleet(FleetSettings settings);
    ~Fleet();
    Fleet(const Fleet&) = delete;
    Fleet& operator=(const Fleet&) = delete;

    // Takes a model (its control thread already started). `blocked_by`: it may not load until
    // that model has left the fleet (a changed model's old self, on reload).
    void add(std::shared_ptr<ModelSupervisor> model, ModelSupervisor* blocked_by = nullptr);
    // Loads the autostart models that fit, and starts the ttl janitor.
    void start();
    // Refuses every waiting and new request, and stops the janitor.
    void stop();
    void set_settings(FleetSettings settings);

    // Counts one admitted request until destroyed (its model is busy while it lives).
    class Lease {
      public:
        Lease(Fleet& fleet, std::shared_ptr<Slot> slot) : fleet_(fleet), slot_(std::move(slot)) {}
        ~Lease();
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;

      private:
        Fleet& fleet_;
        std::shared_ptr<Slot> slot_;
    };
    struct Grant {
        std::unique_ptr<Lease> lease;  // declared first: the ticket in `admission` goes first
        Admission admission;
    };
    // While a request waits for its model to load (or for room): called about every
    // `kTickInterval` with the time waited, outside the lock; false gives up (the client left).
    using WaitTick = std::function<bool(std::chrono::milliseconds waited)>;
    static constexpr std::chrono::milliseconds kTickInterval{2000};
    // Admits a request for `model`: at once when it is loaded and has room; else it waits,
    // loading the model (making room first) when its turn comes. Bounded by queue_timeout for a
    // max_concurrent slot, and by max_wait_for_swap + ready_timeout for a load.
    Grant acquire(ModelSupervisor& model, const WaitTick& tick);
    // Admits a request for `model` only if acquire() would at once, without a wait or a load
    // (the reactor's fast lane, which must not block); otherwise nothing, and nothing changes.
    std::optional<Grant> try_acquire(ModelSupervisor& model);

    // The admin API. Each returns "" on success, or why not.
    std::string start_model(ModelSupervisor& model);
    // Takes no new requests, waits for the in-flight ones (up to `drain`), then stops the child.
    std::string stop_model(ModelSupervisor& model, std::chrono::milliseconds drain);
    std::string restart_model(ModelSupervisor& model, std::chrono::milliseconds drain);
    // As stop_model, then forgets the model (reload: removed or changed). Blocks.
    void retire(ModelSupervisor& model, std::chrono::milliseconds drain);

    // Requests waiting for the model (a load, room, or a max_concurrent slot).
    size_t queued(const ModelSupervisor& model) const;
    // Models loaded and unloaded to make room, since the start (the tests count swaps).
    uint64_t swaps() const;

  private:
    std::shared_ptr<Slot> find(const ModelSupervisor& model) const;  // under mutex_
    bool fits(const Slot& slot) const;
    // The models that must stop before `slot` may load (counting `also` as running).
    std::vector<Slot*> in_the_way(const Slot& slot, const Slot* also = nullptr) const;
    const Slot* first_in_line() const;
    Slot* victim_for(const Slot& slot, Clock::time_point now, bool idle_only) const;
    const Slot* longest_waiting_blocked(Clock::time_point now) const;
    bool closing(const Slot& slot, Clock::time_point now) const;
    // Its requests may be admitted now (loaded, not draining or closing; an on-demand one has
    // been ready since its load), room under max_concurrent aside. Under mutex_.
    bool admits(const Slot& slot, const ModelSupervisor& model, Clock::time_point now) const;
    // Its oldest waiting request has waited max_wait_for_swap.
    bool overdue(const Slot& slot, Clock::time_point now) const;
    void make_progress(Slot& slot, Clock::time_point now);
    void load(Slot& slot, bool on_demand);
    std::string drain_and_unload(const std::shared_ptr<Slot>& slot, std::chrono::milliseconds drain,
                                 const std::string& reason, std::unique_lock<std::mutex>& lock);
    void release(Slot& slot);
    void janitor();

    FleetSettings settings_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    // The janitor's own: a notice on changed_ (every request's end) must not wake it.
    std::condition_variable janitor_wake_;
    std::vector<std::shared_ptr<Slot>> slots_;
    bool stopping_ = false;
    bool started_ = false;
    uint64_t swaps_ = 0;
    std::thread janitor_;
};

}  // namespace gradatum
