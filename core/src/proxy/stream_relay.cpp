#include "proxy/stream_relay.hpp"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace gradatum::proxy {

namespace {

constexpr uint64_t kWake = 1;       // the eventfd's epoll data (no Stream* is 1)
constexpr uint64_t kClientBit = 1;  // set on a stream's pointer for its client's registration
constexpr int kMaxEvents = 128;

}  // namespace

StreamRelay::StreamRelay() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_ < 0 || wake_ < 0) {
        throw std::runtime_error(std::string("stream relay: epoll/eventfd: ") +
                                 std::strerror(errno));
    }
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = kWake;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &e);
    thread_ = std::thread([this] { loop(); });
}

StreamRelay::~StreamRelay() {
    stopping_ = true;
    uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
    if (thread_.joinable()) thread_.join();
    ::close(wake_);
    ::close(epoll_);
}

void StreamRelay::run(Stream& stream) {
    {
        std::lock_guard<std::mutex> lock(stream.mutex_);
        stream.with_thread_ = false;
    }
    {
        std::lock_guard<std::mutex> lock(incoming_mutex_);
        if (closed_) {
            stream.on_relay_stopping();
            std::lock_guard<std::mutex> back(stream.mutex_);
            stream.with_thread_ = true;
            return;
        }
        incoming_.push_back(&stream);
    }
    uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
    std::unique_lock<std::mutex> lock(stream.mutex_);
    stream.back_.wait(lock, [&] { return stream.with_thread_; });
}

void StreamRelay::adopt() {
    std::vector<Stream*> incoming;
    {
        std::lock_guard<std::mutex> lock(incoming_mutex_);
        incoming.swap(incoming_);
    }
    for (Stream* s : incoming) {
        epoll_event up{};
        up.events = EPOLLIN | EPOLLRDHUP;
        up.data.u64 = reinterpret_cast<uint64_t>(s);
        epoll_event client{};
        client.events = EPOLLRDHUP;  // not EPOLLIN: a pipelined next request is no hang-up
        client.data.u64 = reinterpret_cast<uint64_t>(s) | kClientBit;
        auto due = s->deadline();
        deadlines_.insert({due, s});
        watched_[s] = due;
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, s->upstream_fd, &up) != 0 ||
            epoll_ctl(epoll_, EPOLL_CTL_ADD, s->client_fd, &client) != 0) {
            spdlog::warn("stream relay: cannot watch a stream: {}", std::strerror(errno));
            s->on_relay_stopping();
            give_back(s);
            continue;
        }
        // Bytes that arrived before the stream was handed over wake epoll at once (level
        // triggered), so nothing waits.
    }
}

void StreamRelay::give_back(Stream* s) {
    auto it = watched_.find(s);
    if (it == watched_.end()) return;
    deadlines_.erase({it->second, s});
    watched_.erase(it);
    epoll_ctl(epoll_, EPOLL_CTL_DEL, s->upstream_fd, nullptr);
    epoll_ctl(epoll_, EPOLL_CTL_DEL, s->client_fd, nullptr);
    std::lock_guard<std::mutex> lock(s->mutex_);
    s->with_thread_ = true;
    s->back_.notify_one();  // under the lock: `s` lives until its thread takes the lock back
}

void StreamRelay::loop() {
    epoll_event events[kMaxEvents];
    while (!stopping_) {
        int timeout_ms = 1000;
        if (!deadlines_.empty()) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadlines_.begin()->first - Clock::now());
            timeout_ms = static_cast<int>(std::clamp<long long>(left.count() + 1, 0, 1000));
        }
        int n = epoll_wait(epoll_, events, kMaxEvents, timeout_ms);
        if (n < 0 && errno != EINTR) {
            spdlog::error("stream relay: epoll_wait: {}", std::strerror(errno));
            break;
        }
        bool woken = false;
        for (int i = 0; i < n; ++i) {
            uint64_t data = events[i].data.u64;
            if (data == kWake) {
                uint64_t count;
                (void)!::read(wake_, &count, sizeof count);
                woken = true;
                continue;
            }
            auto* s = reinterpret_cast<Stream*>(data & ~kClientBit);
            if (!watched_.count(s)) continue;  // given back earlier in this round
            if (data & kClientBit) {
                s->on_client_gone();
                give_back(s);
            } else if (!s->on_upstream()) {
                give_back(s);
            }
        }
        // New streams only after this round's events: an event still queued for a stream given
        // back in this round must not reach a new stream that happens to have its address.
        if (woken) adopt();
        const auto now = Clock::now();
        while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
            Stream* s = deadlines_.begin()->second;
            deadlines_.erase(deadlines_.begin());
            auto due = s->deadline();
            if (due <= now && !s->on_deadline(now)) {
                watched_[s] = now;  // already out of deadlines_: give_back erases nothing there
                deadlines_.insert({now, s});
                give_back(s);
                continue;
            }
            due = s->deadline();
            deadlines_.insert({due, s});
            watched_[s] = due;
        }
    }
    // Stopping: every stream still here goes back to its thread.
    {
        std::lock_guard<std::mutex> lock(incoming_mutex_);
        closed_ = true;
    }
    adopt();
    while (!watched_.empty()) {
        Stream* s = watched_.begin()->first;
        s->on_relay_stopping();
        give_back(s);
    }
}

}  // namespace gradatum::proxy
