#include "supervisor/fleet.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <set>

#include "gradatum/config_values.hpp"
#include "logging/logging.hpp"

namespace gradatum {

namespace {

using config_values::format_seconds;
using std::chrono::milliseconds;

// Waiting requests re-check this often even without a notice (a min_loaded or ttl passing).
constexpr milliseconds kRecheck(250);
// How long a stop may take after unload(): the child's stop_timeout, then SIGKILL and reaping.
milliseconds stop_bound(const ModelSupervisor& model) {
    return model.settings().stop_timeout + milliseconds(7000);
}

milliseconds since(Fleet::Clock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(Fleet::Clock::now() - start);
}

}  // namespace

struct Fleet::Slot {
    std::shared_ptr<ModelSupervisor> model;
    ModelSupervisor* blocked_by = nullptr;  // reload: its old self must leave first
    size_t active = 0;                      // leases out: requests admitted
    // Requests waiting for one of max_concurrent, by turn: a freed place goes to the oldest.
    std::set<uint64_t> concurrency_queue;
    uint64_t next_turn = 0;
    std::multiset<Clock::time_point> waiting;  // arrivals of requests waiting for a load or room
    Clock::time_point last_used = Clock::now();
    Clock::time_point loaded_at{};
    bool on_demand = true;  // loaded for requests: they wait for the load (autostart: 503)
    bool served = false;    // admitted a request since it was loaded
    int draining = 0;       // admin stops/restarts or a reload under way: no new admissions
    bool gone = false;      // retired by a reload

    const std::string& name() const { return model->name(); }
    bool loaded() const { return model->loaded(); }
};

Fleet::Lease::~Lease() {
    fleet_.release(*slot_);
}

Fleet::Fleet(FleetSettings settings) : settings_(std::move(settings)) {}

Fleet::~Fleet() {
    stop();
}

void Fleet::add(std::shared_ptr<ModelSupervisor> model, ModelSupervisor* blocked_by) {
    auto slot = std::make_shared<Slot>();
    slot->model = std::move(model);
    slot->blocked_by = blocked_by;
    slot->model->set_change_hook([this] {
        // Through the lock: a waiter between its check and its wait must not miss the notice.
        { std::lock_guard<std::mutex> lock(mutex_); }
        changed_.notify_all();
    });
    std::lock_guard<std::mutex> lock(mutex_);
    // A model of the same name still leaving (removed, then added back by a quick reload):
    // the new one waits for it, so two children of one model never run at once.
    for (const auto& other : slots_) {
        if (!slot->blocked_by && other->name() == slot->name())
            slot->blocked_by = other->model.get();
    }
    slots_.push_back(slot);
    // Added by a reload: an autostart model starts now, if it fits.
    if (started_ && !stopping_ && slot->model->settings().autostart && !slot->blocked_by &&
        fits(*slot)) {
        load(*slot, /*on_demand=*/true);
    }
}

void Fleet::start() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        started_ = true;
        for (auto& slot : slots_) {
            if (!slot->model->settings().autostart) continue;
            if (fits(*slot)) {
                load(*slot, /*on_demand=*/false);
            } else {
                spdlog::warn(
                    "model {}: autostart skipped: server.max_running = {} or its group is "
                    "full; it starts on its first request",
                    slot->name(), settings_.max_running);
            }
        }
    }
    janitor_ = std::thread([this] { janitor(); });
}

void Fleet::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        changed_.notify_all();
        janitor_wake_.notify_all();
    }
    if (janitor_.joinable()) janitor_.join();
}

void Fleet::set_settings(FleetSettings settings) {
    std::lock_guard<std::mutex> lock(mutex_);
    settings_ = std::move(settings);
    changed_.notify_all();
}

std::shared_ptr<Fleet::Slot> Fleet::find(const ModelSupervisor& model) const {
    for (const auto& slot : slots_) {
        if (slot->model.get() == &model) return slot;
    }
    return nullptr;
}

// The models that must stop before `slot` may load: the running member of its exclusive group,
// or, at server.max_running, every running model. A remote target (no process) takes no room and
// is never in the way.
std::vector<Fleet::Slot*> Fleet::in_the_way(const Slot& slot, const Slot* also) const {
    if (!slot.model->has_process()) return {};
    std::vector<Slot*> group, running;
    const std::string& g = slot.model->settings().group;
    const bool exclusive = !g.empty() && settings_.exclusive_groups.count(g);
    for (const auto& other : slots_) {
        if (other.get() == &slot || !other->model->has_process()) continue;
        if (other.get() != also && !other->model->occupies_slot()) continue;
        running.push_back(other.get());
        if (exclusive && other->model->settings().group == g) group.push_back(other.get());
    }
    if (!group.empty()) return group;
    if (settings_.max_running > 0 && running.size() >= static_cast<size_t>(settings_.max_running))
        return running;
    return {};
}

bool Fleet::fits(const Slot& slot) const {
    return in_the_way(slot).empty();
}

bool Fleet::overdue(const Slot& slot, Clock::time_point now) const {
    return !slot.waiting.empty() && now - *slot.waiting.begin() >= settings_.max_wait_for_swap;
}

// Who makes room for `slot`: a model in its way that is loaded (not already on its way out) and
// past its min_loaded; idle ones first, then the least recently used. A model with requests
// waiting on it serves them first, unless `slot` is overdue (max_wait_for_swap) and the model has
// served since it loaded. With `idle_only`, a busy model is never chosen.
Fleet::Slot* Fleet::victim_for(const Slot& slot, Clock::time_point now, bool idle_only) const {
    const bool slot_overdue = overdue(slot, now);
    Slot* best = nullptr;
    for (Slot* other : in_the_way(slot)) {
        if (!other->loaded() || other->draining) continue;
        if (now - other->loaded_at < other->model->settings().min_loaded) continue;
        const bool has_waiting = !other->waiting.empty() || !other->concurrency_queue.empty();
        if (has_waiting && (!slot_overdue || !other->served)) continue;
        if (idle_only && other->active > 0) continue;
        auto better = [&](const Slot* a, const Slot* b) {
            if ((a->active == 0) != (b->active == 0)) return a->active == 0;
            return a->last_used < b->last_used;
        };
        if (!best || better(other, best)) best = other;
    }
    return best;
}

// The model whose turn is next: of those waiting to load, the one with the oldest request.
const Fleet::Slot* Fleet::first_in_line() const {
    const Slot* first = nullptr;
    for (const auto& slot : slots_) {
        if (slot->waiting.empty() || slot->loaded() || slot->draining || slot->blocked_by) continue;
        if (!first || *slot->waiting.begin() < *first->waiting.begin()) first = slot.get();
    }
    return first;
}

// Of the models waiting for room, the one with the oldest request.
const Fleet::Slot* Fleet::longest_waiting_blocked(Clock::time_point) const {
    const Slot* first = nullptr;
    for (const auto& slot : slots_) {
        if (slot->waiting.empty() || slot->loaded() || slot->draining || slot->blocked_by) continue;
        if (fits(*slot)) continue;
        if (!first || *slot->waiting.begin() < *first->waiting.begin()) first = slot.get();
    }
    return first;
}

// A loaded model takes no new requests once a request for a model it is in the way of has
// waited max_wait_for_swap: it drains, and then makes room (no starving).
bool Fleet::closing(const Slot& slot, Clock::time_point now) const {
    const Slot* first = longest_waiting_blocked(now);
    if (!first || !overdue(*first, now)) return false;
    return victim_for(*first, now, /*idle_only=*/false) == &slot;
}

void Fleet::load(Slot& slot, bool on_demand) {
    slot.on_demand = on_demand;
    slot.served = false;
    slot.loaded_at = Clock::now();
    slot.last_used = slot.loaded_at;
    slot.model->load();
}

// For a request that waits for `slot` to load: load it when it fits; when its turn has come,
// ask an idle model in the way to stop. Idempotent: every waiting request calls it.
void Fleet::make_progress(Slot& slot, Clock::time_point now) {
    if (stopping_ || slot.blocked_by || slot.draining || slot.loaded()) return;
    const Slot* first = first_in_line();
    auto way = in_the_way(slot);
    if (way.empty()) {
        // It fits; but not before a model whose request waited longer, if it would take that
        // one's room (it would be in its way).
        const auto first_way = first ? in_the_way(*first, &slot) : std::vector<Slot*>{};
        if (!first || first == &slot ||
            std::find(first_way.begin(), first_way.end(), &slot) == first_way.end()) {
            load(slot, /*on_demand=*/true);
        }
        return;
    }
    if (first != &slot) return;  // another model's request waited longer
    for (Slot* other : way) {
        if (!other->loaded()) return;  // already stopping: wait for it
    }
    if (Slot* victim = victim_for(slot, now, /*idle_only=*/true)) {
        ++swaps_;
        victim->model->unload("making room for model '" + slot.name() + "'");
    }
}

bool Fleet::admits(const Slot& slot, const ModelSupervisor& model, Clock::time_point now) const {
    return slot.loaded() && !slot.draining && (!slot.on_demand || model.ready_since_load()) &&
           !closing(slot, now);
}

std::optional<Fleet::Grant> Fleet::try_acquire(ModelSupervisor& model) {
    std::unique_lock<std::mutex> lock(mutex_);
    std::shared_ptr<Slot> slot = find(model);
    if (!slot || stopping_ || slot->gone || !admits(*slot, model, Clock::now()))
        return std::nullopt;
    // First come, first served: queued requests go first.
    const ModelSettings& ms = model.settings();
    if (!slot->concurrency_queue.empty()) return std::nullopt;
    if (ms.max_concurrent > 0 && slot->active >= ms.max_concurrent) return std::nullopt;
    ++slot->active;
    slot->served = true;
    Grant grant;
    grant.lease = std::make_unique<Lease>(*this, slot);
    lock.unlock();
    std::optional<Admission> admission = model.admit_now();
    if (!admission) return std::nullopt;  // the lease ends here, as if it had never begun
    grant.admission = std::move(*admission);
    return grant;
}

Fleet::Grant Fleet::acquire(ModelSupervisor& model, const WaitTick& tick) {
    Grant grant;
    const ModelSettings& ms = model.settings();
    std::unique_lock<std::mutex> lock(mutex_);
    std::shared_ptr<Slot> slot = find(model);
    const auto arrival = Clock::now();
    bool waiting = false, queued = false;
    uint64_t turn = 0;  // in slot->concurrency_queue while queued
    Clock::time_point queue_deadline{};
    auto leave = [&] {
        if (waiting) slot->waiting.erase(slot->waiting.find(arrival));
        if (queued) {
            slot->concurrency_queue.erase(turn);
            changed_.notify_all();  // the ones behind move up
        }
        waiting = queued = false;
    };
    auto refuse = [&](Refusal refusal, std::string why) {
        leave();
        grant.admission.refusal = refusal;
        grant.admission.failure = std::move(why);
        return std::move(grant);
    };
    if (!slot) return refuse(Refusal::not_loaded, "it was removed by a reload");
    const auto load_deadline = arrival + settings_.max_wait_for_swap + ms.ready_timeout;
    auto next_tick = arrival;  // the first at once: a stream's head goes out when it starts to wait
    while (true) {
        if (stopping_) return refuse(Refusal::stopping, "");
        if (slot->gone) return refuse(Refusal::not_loaded, "it was removed by a reload");
        const auto now = Clock::now();
        const ModelState state = model.state();
        Clock::time_point deadline = load_deadline;
        if (slot->loaded() && state == ModelState::failed) {
            return refuse(Refusal::failed, model.state_reason());
        }
        // A remote target found down: 503 at once, not a wait for a load it cannot speed up.
        if (slot->loaded() && !model.has_process() && state == ModelState::backoff) {
            return refuse(Refusal::unreachable, model.state_reason());
        }
        if (admits(*slot, model, now)) {
            if (waiting) {
                slot->waiting.erase(slot->waiting.find(arrival));
                waiting = false;
            }
            // First come, first served: a new request does not pass queued ones, and a queued
            // one goes when its place in the queue is within the free places.
            size_t free = SIZE_MAX;
            if (ms.max_concurrent > 0)
                free = slot->active < ms.max_concurrent ? ms.max_concurrent - slot->active : 0;
            const size_t ahead =
                queued ? static_cast<size_t>(std::distance(slot->concurrency_queue.begin(),
                                                           slot->concurrency_queue.find(turn)))
                       : slot->concurrency_queue.size();
            if (ahead < free) {
                leave();
                ++slot->active;
                slot->served = true;
                grant.lease = std::make_unique<Lease>(*this, slot);
                lock.unlock();
                grant.admission = model.admit();  // waits for a restart; refuses a first load
                return grant;
            }
            if (!queued) {
                if (slot->concurrency_queue.size() >= ms.max_queued) {
                    return refuse(Refusal::queue_full,
                                  std::to_string(ms.max_concurrent) +
                                      " requests are in flight (max_concurrent) and " +
                                      std::to_string(ms.max_queued) + " wait (max_queued)");
                }
                queued = true;
                turn = slot->next_turn++;
                slot->concurrency_queue.insert(turn);
                queue_deadline = now + ms.queue_timeout;
            }
            if (now >= queue_deadline) {
                return refuse(Refusal::queue_timeout,
                              "no request slot freed within " + format_seconds(ms.queue_timeout) +
                                  " (max_concurrent = " + std::to_string(ms.max_concurrent) +
                                  ", queue_timeout)");
            }
            deadline = queue_deadline;
        } else {
            if (!waiting) {
                slot->waiting.insert(arrival);
                waiting = true;
            }
            if (now >= load_deadline) {
                if (slot->loaded()) {
                    return refuse(Refusal::start_timeout, "it was started but not ready within " +
                                                              format_seconds(since(arrival)));
                }
                std::string busy;
                for (Slot* other : in_the_way(*slot)) busy += " '" + other->name() + "'";
                return refuse(Refusal::no_room,
                              "it could not be started within " + format_seconds(since(arrival)) +
                                  ": model(s)" + busy + " stayed busy (server.max_running = " +
                                  std::to_string(settings_.max_running) +
                                  (ms.group.empty() ? "" : ", group '" + ms.group + "'") + ")");
            }
            make_progress(*slot, now);
        }
        changed_.wait_until(lock, std::min({deadline, next_tick, now + kRecheck}));
        // Only a wait for a load or room is told (a stream's head goes out then): a queue for
        // max_concurrent still ends in a 429 of its own.
        if (tick && waiting && Clock::now() >= next_tick) {
            next_tick += kTickInterval;
            lock.unlock();
            const bool still_there = tick(since(arrival));
            lock.lock();
            if (!still_there) return refuse(Refusal::client_gone, "the client left");
        }
    }
}

void Fleet::release(Slot& slot) {
    std::lock_guard<std::mutex> lock(mutex_);
    --slot.active;
    slot.last_used = Clock::now();
    changed_.notify_all();
}

std::string Fleet::start_model(ModelSupervisor& model) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto slot = find(model);
    if (!slot) return "it was removed by a reload";
    if (slot->loaded()) return "";
    if (stopping_) return "the engine is stopping";
    if (slot->blocked_by || slot->draining || slot->gone) {
        return "a reload or another admin request is replacing or stopping it";
    }
    const auto deadline = Clock::now() + stop_bound(model);
    while (!fits(*slot)) {
        const auto now = Clock::now();
        bool leaving = false;
        for (Slot* other : in_the_way(*slot)) leaving = leaving || !other->loaded();
        if (!leaving) {
            Slot* victim = victim_for(*slot, now, /*idle_only=*/true);
            if (!victim) {
                std::string busy;
                for (Slot* other : in_the_way(*slot)) busy += " '" + other->name() + "'";
                return "no room: model(s)" + busy + " are busy or within min_loaded (server." +
                       "max_running = " + std::to_string(settings_.max_running) + ")";
            }
            ++swaps_;
            victim->model->unload("making room for model '" + slot->name() + "' (admin API)");
        }
        if (now >= deadline || stopping_) return "the model(s) in its way did not stop in time";
        changed_.wait_until(lock, std::min(deadline, now + kRecheck));
    }
    load(*slot, /*on_demand=*/true);
    return "";
}

// Under the lock: no new admissions, wait for the active requests (then the rest are cut by
// the stop), unload, and wait for the child to be gone.
std::string Fleet::drain_and_unload(const std::shared_ptr<Slot>& slot, milliseconds drain,
                                    const std::string& reason, std::unique_lock<std::mutex>& lock) {
    ++slot->draining;
    const auto drained = Clock::now() + drain;
    changed_.wait_until(lock, drained, [&] { return slot->active == 0 || stopping_; });
    if (slot->active > 0) {
        logging::for_model(slot->name())
            ->warn("{} request(s) still in flight after {}; ending them", slot->active,
                   format_seconds(drain));
    }
    slot->model->unload(reason);
    const auto stopped = Clock::now() + stop_bound(*slot->model);
    const bool gone = changed_.wait_until(
        lock, stopped, [&] { return !slot->model->occupies_slot() || stopping_; });
    --slot->draining;
    changed_.notify_all();
    return gone ? "" : "its child did not stop in time";
}

std::string Fleet::stop_model(ModelSupervisor& model, milliseconds drain) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto slot = find(model);
    if (!slot) return "it was removed by a reload";
    if (!slot->loaded() && !model.occupies_slot()) return "";
    return drain_and_unload(slot, drain, "stopped by the admin API", lock);
}

std::string Fleet::restart_model(ModelSupervisor& model, milliseconds drain) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto slot = find(model);
    if (!slot) return "it was removed by a reload";
    if (slot->loaded() || model.occupies_slot()) {
        std::string error = drain_and_unload(slot, drain, "restarted by the admin API", lock);
        if (!error.empty()) return error;
    }
    lock.unlock();
    return start_model(model);
}

void Fleet::retire(ModelSupervisor& model, milliseconds drain) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto slot = find(model);
    if (!slot) return;
    const bool was_loaded = slot->loaded();
    drain_and_unload(slot, drain, "removed or changed by a reload", lock);
    slot->gone = true;
    slots_.erase(std::find(slots_.begin(), slots_.end(), slot));
    for (auto& other : slots_) {
        if (other->blocked_by != &model) continue;
        // Its own blocker still leaving (two reloads in a row): the new one waits for that one.
        other->blocked_by = slot->blocked_by;
        if (other->blocked_by || stopping_) continue;
        // A changed model that was running (or asked for) runs again in its new form.
        if (was_loaded || other->model->settings().autostart || !other->waiting.empty()) {
            if (fits(*other)) load(*other, /*on_demand=*/true);
        }
    }
    changed_.notify_all();
}

size_t Fleet::queued(const ModelSupervisor& model) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto slot = find(model);
    return slot ? slot->waiting.size() + slot->concurrency_queue.size() : 0;
}

uint64_t Fleet::swaps() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return swaps_;
}

// Stops the models idle for their ttl. Idle counts from the end of the last request, never
// while one is in flight or waits.
void Fleet::janitor() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        const auto now = Clock::now();
        for (auto& slot : slots_) {
            const auto ttl = slot->model->settings().ttl;
            if (ttl.count() == 0 || !slot->loaded() || slot->draining) continue;
            if (slot->active > 0 || !slot->waiting.empty() || !slot->concurrency_queue.empty())
                continue;
            if (slot->model->state() != ModelState::ready || now - slot->last_used < ttl) continue;
            slot->model->unload("idle for " + format_seconds(ttl) + " (ttl)");
        }
        janitor_wake_.wait_for(lock, milliseconds(200));
    }
}

}  // namespace gradatum
