// A way for the front to serve a request on its reactor thread, without a worker: the proxy's
// fast lane forwards small requests to a ready model on non-blocking sockets (see
// proxy/fast_lane.hpp). The front offers it every complete request head of a plain connection;
// what it declines goes to a worker as before.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "http/client_connection.hpp"
#include "http/request_head.hpp"

namespace gradatum::http {

class FastLane {
  public:
    using Clock = std::chrono::steady_clock;
    // What the front does with a connection the lane gives back (on the loop's thread, after
    // the lane's turn): wait for the client's next request, close it, or give the request whose
    // head is still in its pending() to a worker (the lane could not serve it after all).
    enum class Next { wait, close, worker };
    // `unwatched`: the lane took the client's socket out of the loop's epoll set (it had to wait
    // for it to take a write).
    using Resume = std::function<void(std::unique_ptr<ClientConnection>, Next, bool unwatched)>;
    // Events whose epoll data has this bit are the lane's (the loop's own carry a descriptor).
    static constexpr uint64_t kEventTag = uint64_t{1} << 63;

    virtual ~FastLane() = default;

    // Called once, before the loop starts: its epoll set, in which the lane watches its
    // sockets (their events carry kEventTag).
    virtual void attach(Resume resume, int epoll) = 0;
    // Takes `connection` (leaving it empty) to serve `head`, whose bytes are still in its
    // pending(), and returns true; or returns false with the connection untouched and nothing
    // sent. `keep_alive`: the front still takes further requests on it.
    virtual bool offer(std::unique_ptr<ClientConnection>& connection, const RequestHead& head,
                       bool keep_alive) = 0;
    // Whether a request of this head is of the kind the lane serves (it may still decline it
    // when offered). Any thread: it looks at the head alone.
    virtual bool may_serve(const RequestHead& head) const = 0;
    // One event of the loop's epoll set that carries kEventTag.
    virtual void on_event(uint64_t data, uint32_t events) = 0;
    // After each turn of the loop (its events handled): timeouts, and what ended is freed.
    virtual void end_turn(Clock::time_point now) = 0;
    // When end_turn() must run at the latest (its timeouts), or Clock::time_point::max().
    virtual Clock::time_point next_deadline() const = 0;
    // Requests it serves now (they count as open connections).
    virtual size_t size() const = 0;
    // Ends every request it serves (the front stops).
    virtual void stop() = 0;
};

}  // namespace gradatum::http
