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

    void run();
    void accept_all(Listener& listener);
    void want_write(int fd, bool on);
    void watch(std::unique_ptr<ClientConnection> connection, Clock::time_point deadline, bool idle);
    void on_readable(int fd);
    void on_deadline(int fd);
    void answer_and_close(int fd, int status, const std::string& code, const std::string& message,
                          int retry_after_s = 0);
    void forget(int fd);
    void dispatch(std::unique_ptr<ClientConnection> connection, RequestHead head);
    void adopt_returned();
    void close_listeners();
    // Runs `command` on the reactor thread (at once before start()).
    void post(std::function<void()> command);
    void run_posted();
    void watch_listener(const Listener& listener);

    // Worker side.
    void serve(std::unique_ptr<ClientConnection> connection, RequestHead head);
    bool next_request_arrives(ClientConnection& connection);
    void hand_back(std::unique_ptr<ClientConnection> connection);

    FrontSettings settings_;
    Poco::Net::HTTPRequestHandlerFactory::Ptr handlers_;
    Poco::Net::HTTPServerParams::Ptr params_;
    Poco::ThreadPool pool_;
    std::vector<Listener> listeners_;
    std::mutex tls_mutex_;
    std::shared_ptr<TlsContext> tls_;
    int epoll_ = -1;
    int wake_ = -1;  // eventfd: connections handed back, or a command
    std::thread reactor_;

    // Reactor thread only.
    std::map<int, std::unique_ptr<Waiting>> waiting_;
    std::set<std::pair<Clock::time_point, int>> deadlines_;

    std::atomic<bool> accepting_{true};
    std::mutex listeners_mutex_;
    std::condition_variable listeners_closed_cv_;
    bool listeners_closed_ = false;
    std::atomic<bool> stopping_{false};
    std::atomic<size_t> busy_{0};
    std::mutex returned_mutex_;
    std::deque<std::unique_ptr<ClientConnection>> returned_;
    std::deque<std::function<void()>> posted_;  // under returned_mutex_
    bool started_ = false;
    std::mutex serving_mutex_;
    std::set<int> serving_;  // descriptors of connections a worker holds
};

}  // namespace gradatum::http
