// Persistent connections to the children, so that a forwarded request does not pay for a TCP
// connect and close (and the child for an accept) every time.
//
// Rules: a connection comes back only after a response was read to its end and the child did
// not ask to close; streams and aborted or failed exchanges never come back. Each model's idle
// connections belong to one child *generation* (Admission::generation grows with every child
// that becomes ready): a request for a newer generation empties the model's idle list first, and
// a request still admitted to an older one never takes from it, so no request can reach a dead
// child's old connection. A taken connection is checked first (poll: no end of stream, no error,
// no stray bytes); one idle for longer than `max_idle` is closed (llama-server closes its side
// after 5 s). A reaper thread closes expired and dead idle connections once a second.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy/stream_relay.hpp"
#include "proxy/upstream_session.hpp"

namespace gradatum::proxy {

struct UpstreamSettings {
    std::chrono::milliseconds connect_timeout{5'000};
    std::chrono::milliseconds header_timeout{600'000};  // request sent -> first response byte
    size_t keepalive = 32;                              // idle connections per model; 0: none
    std::chrono::milliseconds max_idle{4'000};          // an idle connection older than this goes
};

class UpstreamPool {
  public:
    explicit UpstreamPool(UpstreamSettings settings);
    ~UpstreamPool();
    UpstreamPool(const UpstreamPool&) = delete;
    UpstreamPool& operator=(const UpstreamPool&) = delete;

    const UpstreamSettings& settings() const { return settings_; }
    // The thread that moves the bytes of open event streams.
    StreamRelay& relay() { return relay_; }

    // An idle connection to `model`'s child of `generation` at host:port that is still open, or
    // nullptr (the caller connects). `trust_fresh`: one given back moments ago is not checked
    // (a poll(2) saved), for a caller that sends its request again elsewhere when the
    // connection turns out closed before a byte of an answer (the fast lane: GET and HEAD).
    std::unique_ptr<UpstreamConnection> take(const std::string& model, uint64_t generation,
                                             const std::string& host, uint16_t port,
                                             bool trust_fresh = false);
    // Keeps `connection` for the next request, unless the pool is full or its generation is over.
    void give_back(const std::string& model, std::unique_ptr<UpstreamConnection> connection);
    // Closes every idle connection (the engine is stopping).
    void clear();

    struct Stats {
        uint64_t idle = 0;       // idle connections now
        uint64_t reused = 0;     // requests that took a pooled connection
        uint64_t kept = 0;       // connections given back and kept
        uint64_t discarded = 0;  // idle connections closed: dead, expired, of an old generation
    };
    Stats stats() const;

  private:
    struct Slot {
        uint64_t generation = 0;
        std::vector<std::unique_ptr<UpstreamConnection>> idle;  // most recently used last
    };
    void reap();

    const UpstreamSettings settings_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::map<std::string, Slot, std::less<>> slots_;
    // Counted outside the lock too (a connection's check is made outside it).
    struct Counters {
        std::atomic<uint64_t> idle{0}, reused{0}, kept{0}, discarded{0};
    } stats_;
    std::thread reaper_;
    StreamRelay relay_;
};

}  // namespace gradatum::proxy
