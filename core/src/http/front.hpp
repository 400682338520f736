// The engine's HTTP server. One reactor thread (epoll) accepts on every listener and holds each
// connection until a whole request head has arrived, within a deadline and size limits; only then
// does a worker thread take the connection and serve it (blocking, Poco-style handlers). Between
// requests, idle keep-alive connections go back to the reactor. So a slow or idle client costs a
// file descriptor and a few hundred bytes, never a thread: 1,000 clients trickling their heads
// cannot starve a normal request. See docs/ARCHITECTURE.md.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "http/client_connection.hpp"
#include "http/fast_lane.hpp"
#include "http/request_head.hpp"
#include "http/tls.hpp"

namespace gradatum::http {

struct FrontSettings {
    HeadLimits limits;
    int threads = 256;                                      // workers: requests served at once
    std::chrono::milliseconds header_timeout{10'000};       // a whole head must arrive within
    std::chrono::milliseconds keep_alive_timeout{10'000};   // idle between requests
    std::chrono::milliseconds client_idle_timeout{30'000};  // a stalled body (408)
    std::chrono::milliseconds client_send_timeout{60'000};  // a client that stops reading
    size_t max_connections = 10'000;
    // The JSON body of an error the front answers itself (status, stable code, message).
    std::function<std::string(int status, const std::string& code, const std::string& message)>
        error_body;
    // Reactor threads (event loops): each holds its share of the connections (the first
    // accepts and shares them out) and runs its own fast lane.
    int loops = 1;
    // Makes each loop's fast lane, which serves what it can of complete heads on the loop's
    // thread (none: every request goes to a worker).
    std::function<std::shared_ptr<FastLane>()> make_fast_lane;
};

class Front {
  public:
    Front(FrontSettings settings, Poco::Net::HTTPRequestHandlerFactory::Ptr handlers);
    ~Front();
    Front(const Front&) = delete;
    Front& operator=(const Front&) = delete;

    // A bound, listening socket; `tls`: its connections speak TLS first. After start() (a
    // reload), the reactor takes it on its next turn.
    void add_listener(Poco::Net::ServerSocket listener, bool tls = false);
    // Closes the listener bound to `address` (a reload); its open connections go on.
    void remove_listener(const Poco::Net::SocketAddress& address);
    // The certificate of the TLS listeners; a later call (a reload) applies to new connections.
    void set_tls(std::shared_ptr<TlsContext> tls);
    void start();
    // Closes the listeners (new clients are refused), and answers requests that arrive on open
    // connections with 503 from now on.
    void stop_accepting();
    // Closes every connection, shuts down the ones still being served, and joins all threads.
    void stop();

    size_t busy_workers() const { return busy_; }

  private:
    struct Waiting;
    struct Listener {
        Poco::Net::ServerSocket socket;
        bool tls;
        Poco::Net::SocketAddress address;  // read once: address() is a getsockname(2) each time
    };
    using Clock = std::chrono::steady_clock;
    // One reactor thread: its epoll set, the connections it holds, its fast lane.
    struct Loop {
        ~Loop();
        size_t index = 0;
        int epoll = -1;
        int wake = -1;  // eventfd: connections handed to it, or a command
        std::thread thread;
        std::shared_ptr<FastLane> lane;
        // Its thread only.
        std::map<int, std::unique_ptr<Waiting>> waiting;
        std::set<std::pair<Clock::time_point, int>> deadlines;
        // Connections the fast lane served, to wait for their next request (or close).
        std::vector<std::pair<std::unique_ptr<ClientConnection>, FastLane::Next>> served;
        // Connections the lane holds, by descriptor: whether each is still in the epoll set.
        // One that reports an event meanwhile (a pipelined request, a hang-up) leaves the set
        // until it is back. Indexed by descriptor: no allocation per lane request.
        enum class Lent : char { no, unregistered, registered };
        std::vector<Lent> lent;
        Lent& lent_at(int fd) {
            if (static_cast<size_t>(fd) >= lent.size()) lent.resize(fd + 64, Lent::no);
            return lent[fd];
        }
        std::atomic<size_t> held{0};  // connections it holds, as of its last turn
        // Under `mutex`: from workers (returned), from the first loop (fresh), commands.
        std::mutex mutex;
        std::deque<std::unique_ptr<ClientConnection>> returned;
        std::deque<std::unique_ptr<ClientConnection>> fresh;
        std::deque<std::function<void()>> posted;
    };

    // Loop side (its own thread).
    void run(Loop& l);
    void accept_all(Loop& l, Listener& listener);
    void want_write(Loop& l, int fd, bool on);
    // `registered`: the descriptor is in the epoll set already (a connection the lane had).
    void watch(Loop& l, std::unique_ptr<ClientConnection> connection, Clock::time_point deadline,
               bool idle, bool registered = false);
    void on_readable(Loop& l, int fd);
    // A head's bytes are in the connection's pending(): answers, offers it to the fast lane,
    // dispatches it, or waits for more. `before`: pending bytes already scanned. `lane`: it may
    // go to the fast lane.
    void examine(Loop& l, int fd, size_t before, bool closed, bool lane = true);
    void resume_served(Loop& l);
    void on_deadline(Loop& l, int fd);
    void answer_and_close(Loop& l, int fd, int status, const std::string& code,
                          const std::string& message, int retry_after_s = 0);
    void forget(Loop& l, int fd);
    // The fast lane took the connection: forgotten, but left in the epoll set (no epoll_ctl for
    // a request the lane serves); see Loop::lent.
    void lend(Loop& l, int fd);
    void adopt_returned(Loop& l);
    void run_posted(Loop& l);
    void dispatch(std::unique_ptr<ClientConnection> connection, RequestHead head);
    void close_listeners();  // the first loop's
    // Runs `command` on the first loop's thread (at once before start()).
    void post(std::function<void()> command);
    void watch_listener(const Listener& listener);
    void wake(Loop& loop);
    // Open connections, counted from `l`'s thread: its own exactly, the other loops' as of
    // their last turn, and the workers'.
    size_t open_connections(const Loop& l) const;

    // Worker side.
    void serve(std::unique_ptr<ClientConnection> connection, RequestHead head);
    bool next_request_arrives(ClientConnection& connection);
    void hand_back(std::unique_ptr<ClientConnection> connection);

    FrontSettings settings_;
    Poco::Net::HTTPRequestHandlerFactory::Ptr handlers_;
    Poco::Net::HTTPServerParams::Ptr params_;
    Poco::ThreadPool pool_;
    std::vector<std::unique_ptr<Loop>> loops_;
    std::vector<Listener> listeners_;  // the first loop's
    std::mutex tls_mutex_;
    std::shared_ptr<TlsContext> tls_;
    size_t next_loop_ = 0;  // the first loop's: where the next plain connection goes

    std::atomic<bool> accepting_{true};
    std::mutex listeners_mutex_;
    std::condition_variable listeners_closed_cv_;
    bool listeners_closed_ = false;
    std::atomic<bool> stopping_{false};
    std::atomic<size_t> busy_{0};
    bool started_ = false;
    std::mutex serving_mutex_;
    std::set<int> serving_;  // descriptors of connections a worker holds
};

}  // namespace gradatum::http
