#include "supervisor/in_flight.hpp"

namespace gradatum {

std::unique_ptr<InFlight::Ticket> InFlight::add() {
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t id = next_id_++;
    entries_[id];
    return std::make_unique<Ticket>(*this, id);
}

void InFlight::remove(uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.erase(id);
    if (entries_.empty()) emptied_.notify_all();
}

void InFlight::set_abort(uint64_t id, std::function<void()> abort) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    // Aborted before the connection existed: close it at once.
    if (it->second.aborted && abort) {
        abort();
        return;
    }
    it->second.abort = std::move(abort);
}

bool InFlight::was_aborted(uint64_t id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(id);
    return it != entries_.end() && it->second.aborted;
}

size_t InFlight::count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
}

bool InFlight::wait_empty(std::chrono::steady_clock::time_point deadline) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return emptied_.wait_until(lock, deadline, [&] { return entries_.empty(); });
}

void InFlight::abort_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, entry] : entries_) {
        entry.aborted = true;
        if (entry.abort) entry.abort();
    }
}

}  // namespace gradatum
