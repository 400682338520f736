// One TCP connection to a child, spoken to with raw system calls on Poco's socket: the proxy
// writes each request head and body with one sendmsg, reads what has arrived with one recv (never
// a full buffer, POCO-NOTES item 2) and parses the framing itself. A connection can outlive its
// request (the pool keeps it for the next one) and can be shut down from any thread.
#pragma once

#include <Poco/Net/StreamSocket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace gradatum::proxy {

// Why a connection could not be opened.
struct ConnectError : std::runtime_error {
    enum class Kind { refused, timed_out, other };
    ConnectError(Kind k, const std::string& what) : std::runtime_error(what), kind(k) {}
    Kind kind;
};

class UpstreamConnection {
  public:
    using Clock = std::chrono::steady_clock;

    // Connects within `connect_timeout` (throws ConnectError). Each recv() waits at most
    // `wait_slice` (the caller checks its client and its deadlines in between); each send at
    // most `send_timeout`.
    static std::unique_ptr<UpstreamConnection> open(const std::string& host, uint16_t port,
                                                    std::chrono::milliseconds connect_timeout,
                                                    std::chrono::milliseconds send_timeout,
                                                    std::chrono::milliseconds wait_slice);
    ~UpstreamConnection();
    UpstreamConnection(const UpstreamConnection&) = delete;
    UpstreamConnection& operator=(const UpstreamConnection&) = delete;

    // Sends every byte of `iov` (modified in place). False on an error or a send timeout.
    bool send_all(iovec* iov, int count);
    // What one recv() gives: > 0 bytes, 0 at end of stream, -1 with errno (EAGAIN: the wait
    // slice passed with nothing to read).
    ssize_t receive(char* buffer, size_t length);
    // Changes how long one receive() may wait (near a deadline).
    void set_wait_slice(std::chrono::milliseconds slice);
    std::chrono::milliseconds wait_slice() const { return wait_slice_; }

    // True if nothing happened on the connection while it was idle: no end of stream, no error,
    // no stray bytes. One poll(2) with no wait.
    bool idle_and_open() const;

    // Ends the exchange from any thread: a waiting receive() sees an end of stream. Works on a
    // duplicate of the descriptor, so it never touches a number the kernel gave to someone else.
    void shutdown_now() noexcept;

    int fd() const { return fd_; }
    const std::string& host() const { return host_; }
    uint16_t port() const { return port_; }

    // Set by the pool: the child generation it belongs to, when it was last given back, and how
    // many requests it has carried.
    uint64_t generation = 0;
    Clock::time_point idle_since{};
    uint64_t requests = 0;

  private:
    UpstreamConnection(Poco::Net::StreamSocket socket, std::string host, uint16_t port);

    Poco::Net::StreamSocket socket_;
    int fd_ = -1;
    int abort_fd_ = -1;
    std::string host_;
    uint16_t port_ = 0;
    std::chrono::milliseconds wait_slice_{0};
};

}  // namespace gradatum::proxy
