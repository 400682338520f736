// The fast lane: small requests forwarded on the front's reactor thread, without a worker.
//
// A GET or HEAD without a body, on a plain connection, for a model that serves now, goes out on
// an idle pooled connection to its child from the reactor itself, and its answer comes back the
// same way: non-blocking sockets in one epoll set, no thread switch, no blocking wait. The thread
// per request of the worker path costs two thread switches per request (the wait for the child's
// answer, the wait for the client's next request); here one epoll_wait serves every connection
// that is ready. See docs/ARCHITECTURE.md.
//
// Whatever would wait or needs a worker's rules goes to a worker as before, with nothing sent or
// consumed: a request with a body, a streaming request, the engine's own endpoints, a model that
// is loading, restarting, queued or swapped out, no idle pooled connection, TLS. So does a request
// whose pooled connection closes before the first byte of an answer: the worker sends it again
// under its own rules (a retry on a new connection; the next child if this one died).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include "http/fast_lane.hpp"

namespace gradatum::proxy {

struct FrontDoor;
struct ErrorKind;

class FastLane : public http::FastLane {
  public:
    // `client_send_timeout`: how long a client may leave an answer unread (server.*).
    FastLane(FrontDoor& door, std::chrono::milliseconds client_send_timeout);
    ~FastLane() override;
    FastLane(const FastLane&) = delete;
    FastLane& operator=(const FastLane&) = delete;

    void attach(Resume resume, int epoll) override;
    bool offer(std::unique_ptr<http::ClientConnection>& connection, const http::RequestHead& head,
               bool keep_alive) override;
    bool may_serve(const http::RequestHead& head) const override;
    void on_event(uint64_t data, uint32_t events) override;
    void end_turn(Clock::time_point now) override;
    Clock::time_point next_deadline() const override;
    size_t size() const override { return live_.size(); }
    void stop() override;

  private:
    struct Exchange;
    enum class Side { upstream, client };
    struct Tag {
        Exchange* exchange;
        Side side;
    };

    void on_upstream(Exchange& x);
    void on_client(Exchange& x, uint32_t events);
    void send_request(Exchange& x);
    void read_answer(Exchange& x);
    bool take_head(Exchange& x, const char* data, size_t size);
    void pass_on(Exchange& x, const char* data, size_t size);
    void flush(Exchange& x);
    void check_timeouts(Clock::time_point now);
    void arm_upstream(Exchange& x);
    void watch_client(Exchange& x, bool writing);
    // The connection to the child goes back to the pool (the answer is whole and reusable).
    void release_upstream(Exchange& x);
    void drop_upstream(Exchange& x);
    // Endings: the client has its answer; an error in place of one; the answer broke after its
    // head went out; the request goes to a worker after all (nothing reached the client).
    void complete(Exchange& x);
    void fail(Exchange& x, const ErrorKind& kind, const std::string& message);
    void broke(Exchange& x, const std::string& why);
    void client_left(Exchange& x);
    void to_worker(Exchange& x);
    void end(Exchange& x, Next next);

    FrontDoor& door_;
    const std::chrono::milliseconds client_send_timeout_;
    Resume resume_;
    int epoll_ = -1;  // the loop's
    std::map<Exchange*, std::unique_ptr<Exchange>> live_;
    std::vector<std::unique_ptr<Exchange>> ended_;  // freed after the turn that ended them
    Clock::time_point next_check_ = Clock::time_point::max();
    // Not thread_local: static TLS is reserved and zeroed in every thread of the process (each
    // of up to server.threads workers would carry it).
    std::unique_ptr<char[]> read_buffer_;
};

}  // namespace gradatum::proxy
