#include "proxy/upstream_pool.hpp"

#include <spdlog/spdlog.h>

namespace gradatum::proxy {

namespace {
// A connection given back this recently is taken without a check by those who ask for it
// (trust_fresh): a child closes idle connections after seconds, not moments.
constexpr std::chrono::milliseconds kFresh{200};
}  // namespace

using Clock = UpstreamConnection::Clock;

UpstreamPool::UpstreamPool(UpstreamSettings settings) : settings_(settings) {
    if (settings_.keepalive > 0) reaper_ = std::thread([this] { reap(); });
}

UpstreamPool::~UpstreamPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (reaper_.joinable()) reaper_.join();
    clear();
}

std::unique_ptr<UpstreamConnection> UpstreamPool::take(const std::string& model,
                                                       uint64_t generation, const std::string& host,
                                                       uint16_t port, bool trust_fresh) {
    if (settings_.keepalive == 0) return nullptr;
    std::vector<std::unique_ptr<UpstreamConnection>> dropped;  // closed after the unlock
    std::unique_ptr<UpstreamConnection> found;
    const auto now = Clock::now();
    while (!found) {
        std::unique_ptr<UpstreamConnection> candidate;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto it = slots_.find(model);
            if (it == slots_.end()) {
                slots_[model].generation = generation;
                break;
            }
            Slot& slot = it->second;
            if (generation > slot.generation) {
                // A newer child is serving: whatever is idle belongs to the one before.
                for (auto& c : slot.idle) dropped.push_back(std::move(c));
                stats_.discarded += slot.idle.size();
                stats_.idle -= slot.idle.size();
                slot.idle.clear();
                slot.generation = generation;
            } else if (generation < slot.generation) {
                break;  // admitted to a child that is already replaced: connect afresh
            }
            while (!slot.idle.empty() && !candidate) {
                std::unique_ptr<UpstreamConnection> c = std::move(slot.idle.back());
                slot.idle.pop_back();
                --stats_.idle;
                if (now - c->idle_since < settings_.max_idle && c->host() == host &&
                    c->port() == port) {
                    candidate = std::move(c);
                } else {
                    ++stats_.discarded;
                    dropped.push_back(std::move(c));
                }
            }
        }
        if (!candidate) break;
        // The check is a system call: made outside the lock, which every request takes.
        if ((trust_fresh && now - candidate->idle_since < kFresh) || candidate->idle_and_open()) {
            found = std::move(candidate);
        } else {
            ++stats_.discarded;
            dropped.push_back(std::move(candidate));
        }
    }
    if (found) ++stats_.reused;
    if (!dropped.empty()) {
        spdlog::debug("model {}: closed {} idle upstream connection(s)", model, dropped.size());
    }
    return found;
}

void UpstreamPool::give_back(const std::string& model,
                             std::unique_ptr<UpstreamConnection> connection) {
    if (!connection || settings_.keepalive == 0) return;
    connection->idle_since = Clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    Slot& slot = slots_[model];
    if (connection->generation != slot.generation || slot.idle.size() >= settings_.keepalive) {
        return;  // `connection` closes on the way out, after the unlock
    }
    slot.idle.push_back(std::move(connection));
    ++stats_.kept;
    ++stats_.idle;
}

void UpstreamPool::clear() {
    std::map<std::string, Slot, std::less<>> all;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto& [model, slot] : slots_) {
            stats_.discarded += slot.idle.size();
            stats_.idle -= slot.idle.size();
            all[model].idle = std::move(slot.idle);
            slot.idle.clear();
        }
    }
}

UpstreamPool::Stats UpstreamPool::stats() const {
    Stats s;
    s.idle = stats_.idle;
    s.reused = stats_.reused;
    s.kept = stats_.kept;
    s.discarded = stats_.discarded;
    return s;
}

void UpstreamPool::reap() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
        if (stopping_) break;
        std::vector<std::unique_ptr<UpstreamConnection>> dropped;
        const auto now = Clock::now();
        for (auto& [model, slot] : slots_) {
            auto& idle = slot.idle;
            for (size_t i = 0; i < idle.size();) {
                if (now - idle[i]->idle_since >= settings_.max_idle || !idle[i]->idle_and_open()) {
                    dropped.push_back(std::move(idle[i]));
                    idle.erase(idle.begin() + static_cast<std::ptrdiff_t>(i));
                } else {
                    ++i;
                }
            }
        }
        stats_.discarded += dropped.size();
        stats_.idle -= dropped.size();
        lock.unlock();
        dropped.clear();
        lock.lock();
    }
}

}  // namespace gradatum::proxy
