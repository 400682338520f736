#include "http/front.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "gradatum/config_values.hpp"
#include "http/http_date.hpp"
#include "http/server_request.hpp"
#include "http/server_response.hpp"

namespace gradatum::http {

namespace {

using std::chrono::milliseconds;

// A refused connection is read and dropped this long before it is closed, so that the client
// gets the answer rather than a reset.
constexpr milliseconds kLinger(1000);
constexpr int kMaxEvents = 256;
// After an answer, a worker waits this long for the client's next request before it hands the
// connection back to the reactor: a keep-alive client usually sends it at once, and serving it
// on the same thread saves two thread switches, the socket mode changes and the reactor's
// epoll_ctl calls per request. Bounded, so an idle client still costs no thread.
constexpr milliseconds kNextRequestWait(2);

Poco::Timespan timespan(milliseconds ms) {
    return Poco::Timespan(static_cast<long>(ms.count() / 1000),
                          static_cast<long>(ms.count() % 1000 * 1000));
}

std::string error_response(const FrontSettings& settings, int status, const std::string& code,
                           const std::string& message, int retry_after_s) {
    std::string body = settings.error_body ? settings.error_body(status, code, message) : message;
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " +
                       Poco::Net::HTTPResponse::getReasonForStatus(
                           static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status)) +
                       "\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n";
    if (retry_after_s > 0) head += "Retry-After: " + std::to_string(retry_after_s) + "\r\n";
    return head + "\r\n" + body;
}

// A worker's job: one connection until it goes back to the reactor or is closed.
class ConnectionJob : public Poco::Runnable {
  public:
    ConnectionJob(std::function<void()> work) : work_(std::move(work)) {}
    void run() override {
        work_();
        delete this;
    }

  private:
    std::function<void()> work_;
};

}  // namespace

struct Front::Waiting {
    std::unique_ptr<ClientConnection> connection;
    Clock::time_point deadline;
    bool idle = true;          // no byte of a head yet (a fresh or kept-alive connection)
    bool closing = false;      // answered; draining what the client still sends
    bool handshaking = false;  // TLS: the handshake is not done yet
};

Front::Front(FrontSettings settings, Poco::Net::HTTPRequestHandlerFactory::Ptr handlers)
    : settings_(std::move(settings)),
      handlers_(std::move(handlers)),
      params_(new Poco::Net::HTTPServerParams),
      pool_("http", 2, std::max(2, settings_.threads), 60) {
    const int count = std::max(1, settings_.loops);
    for (int i = 0; i < count; ++i) {
        auto loop = std::make_unique<Loop>();
        loop->index = static_cast<size_t>(i);
        loop->epoll = epoll_create1(EPOLL_CLOEXEC);
        loop->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (loop->epoll < 0 || loop->wake < 0) {
            throw Poco::IOException(std::string("epoll/eventfd: ") + std::strerror(errno));
        }
        if (settings_.make_fast_lane) loop->lane = settings_.make_fast_lane();
        loops_.push_back(std::move(loop));
    }
}

Front::Loop::~Loop() {
    if (wake >= 0) ::close(wake);
    if (epoll >= 0) ::close(epoll);
}

Front::~Front() {
    stop();
}

void Front::wake(Loop& loop) {
    uint64_t one = 1;
    (void)!::write(loop.wake, &one, sizeof one);
}

void Front::add_listener(Poco::Net::ServerSocket listener, bool tls) {
    listener.setBlocking(false);
    post([this, listener, tls] {
        listeners_.push_back({listener, tls, listener.address()});
        if (started_) watch_listener(listeners_.back());
    });
}

void Front::remove_listener(const Poco::Net::SocketAddress& address) {
    post([this, address] {
        std::lock_guard<std::mutex> lock(listeners_mutex_);
        for (auto it = listeners_.begin(); it != listeners_.end(); ++it) {
            if (it->socket.address() != address) continue;
            epoll_ctl(loops_[0]->epoll, EPOLL_CTL_DEL, it->socket.impl()->sockfd(), nullptr);
            it->socket.close();
            listeners_.erase(it);
            return;
        }
    });
}

void Front::post(std::function<void()> command) {
    Loop& first = *loops_[0];
    {
        std::lock_guard<std::mutex> lock(first.mutex);
        if (!started_) {
            command();
            return;
        }
        first.posted.push_back(std::move(command));
    }
    wake(first);
}

void Front::run_posted(Loop& l) {
    std::deque<std::function<void()>> commands;
    {
        std::lock_guard<std::mutex> lock(l.mutex);
        commands.swap(l.posted);
    }
    for (auto& command : commands) command();
}

void Front::watch_listener(const Listener& listener) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = listener.socket.impl()->sockfd();
    epoll_ctl(loops_[0]->epoll, EPOLL_CTL_ADD, event.data.fd, &event);
}

void Front::set_tls(std::shared_ptr<TlsContext> tls) {
    std::lock_guard<std::mutex> lock(tls_mutex_);
    tls_ = std::move(tls);
}

void Front::start() {
    for (auto& loop : loops_) {
        Loop& l = *loop;
        auto add = [&](int fd) {
            epoll_event event{};
            event.events = EPOLLIN;
            event.data.fd = fd;
            epoll_ctl(l.epoll, EPOLL_CTL_ADD, fd, &event);
        };
        add(l.wake);
        if (l.lane) {
            l.lane->attach(
                [&l](std::unique_ptr<ClientConnection> connection, FastLane::Next next,
                     bool unwatched) {
                    if (unwatched) l.lent_at(connection->fd()) = Loop::Lent::unregistered;
                    l.served.emplace_back(std::move(connection), next);
                },
                l.epoll);
        }
    }
    for (auto& listener : listeners_) watch_listener(listener);
    {
        std::lock_guard<std::mutex> lock(loops_[0]->mutex);
        started_ = true;
    }
    for (auto& loop : loops_) loop->thread = std::thread([this, &l = *loop] { run(l); });
}

void Front::stop_accepting() {
    accepting_ = false;
    wake(*loops_[0]);  // it closes the listeners
    std::unique_lock<std::mutex> lock(listeners_mutex_);
    listeners_closed_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return listeners_closed_; });
}

void Front::stop() {
    if (stopping_.exchange(true)) return;
    accepting_ = false;
    for (auto& loop : loops_) wake(*loop);
    for (auto& loop : loops_) {
        if (loop->thread.joinable()) loop->thread.join();
    }
    {
        // Requests still being served (cut off by the engine's stop) end now.
        std::lock_guard<std::mutex> lock(serving_mutex_);
        for (int fd : serving_) ::shutdown(fd, SHUT_RDWR);
    }
    pool_.joinAll();
    for (auto& loop : loops_) {
        std::lock_guard<std::mutex> lock(loop->mutex);
        loop->returned.clear();
        loop->fresh.clear();
    }
}

size_t Front::open_connections(const Loop& l) const {
    size_t n = busy_ + l.waiting.size() + (l.lane ? l.lane->size() : 0);
    for (const auto& loop : loops_) {
        if (loop.get() != &l) n += loop->held;  // as of its last turn
    }
    return n;
}

// ---------------------------------------------------------------- reactor thread

void Front::run(Loop& l) {
    epoll_event events[kMaxEvents];
    FastLane* lane = l.lane.get();
    while (!stopping_) {
        int timeout_ms = 1000;
        Clock::time_point next = Clock::time_point::max();
        if (!l.deadlines.empty()) next = l.deadlines.begin()->first;
        if (lane) next = std::min(next, lane->next_deadline());
        if (next != Clock::time_point::max()) {
            auto left = std::chrono::duration_cast<milliseconds>(next - Clock::now());
            timeout_ms = static_cast<int>(std::clamp<long long>(left.count() + 1, 0, 1000));
        }
        int n = epoll_wait(l.epoll, events, kMaxEvents, timeout_ms);
        if (n < 0 && errno != EINTR) {
            spdlog::error("http: epoll_wait: {}", std::strerror(errno));
            break;
        }
        for (int i = 0; i < n; ++i) {
            if (lane && (events[i].data.u64 & FastLane::kEventTag)) {
                lane->on_event(events[i].data.u64, events[i].events);
                continue;
            }
            int fd = events[i].data.fd;
            if (fd == l.wake) {
                uint64_t count;
                (void)!::read(l.wake, &count, sizeof count);
                if (!accepting_ && l.index == 0) close_listeners();
                run_posted(l);
                adopt_returned(l);
                continue;
            }
            bool is_listener = false;
            if (l.index == 0) {  // the first loop accepts, and shares the connections out
                for (auto& listener : listeners_) {
                    if (listener.socket.impl()->sockfd() == fd) {
                        is_listener = true;
                        if (accepting_) accept_all(l, listener);
                    }
                }
            }
            if (!is_listener) on_readable(l, fd);
        }
        auto now = Clock::now();
        if (lane) lane->end_turn(now);
        resume_served(l);
        while (!l.deadlines.empty() && l.deadlines.begin()->first <= now) {
            on_deadline(l, l.deadlines.begin()->second);
        }
        l.held = l.waiting.size() + (lane ? lane->size() : 0);
    }
    if (lane) lane->stop();
    l.served.clear();
    l.lent.assign(l.lent.size(), Loop::Lent::no);
    if (l.index == 0) close_listeners();
    while (!l.waiting.empty()) forget(l, l.waiting.begin()->first);
}

void Front::close_listeners() {
    std::lock_guard<std::mutex> lock(listeners_mutex_);
    if (listeners_closed_) return;
    for (auto& listener : listeners_) {
        epoll_ctl(loops_[0]->epoll, EPOLL_CTL_DEL, listener.socket.impl()->sockfd(), nullptr);
        listener.socket.close();
    }
    listeners_closed_ = true;
    listeners_closed_cv_.notify_all();
}

void Front::accept_all(Loop& l, Listener& listener) {
    std::shared_ptr<TlsContext> tls;
    if (listener.tls) {
        std::lock_guard<std::mutex> lock(tls_mutex_);
        tls = tls_;
        if (!tls) return;  // no certificate (cannot happen once the engine has started)
    }
    while (true) {
        int fd = ::accept4(listener.socket.impl()->sockfd(), nullptr, nullptr,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE) {
                spdlog::warn("http: cannot accept: {} (raise LimitNOFILE / ulimit -n)",
                             std::strerror(errno));
            }
            return;
        }
        try {
            std::unique_ptr<ClientConnection> connection;
            {
                // Scoped: no copy of the socket may outlive the connection object, which
                // another loop or a worker may own (and close) from the next moment on.
                Poco::Net::StreamSocket socket(new Poco::Net::StreamSocketImpl(fd));
                socket.setBlocking(false);
                socket.setNoDelay(true);  // small SSE writes must not wait for Nagle
                connection =
                    std::make_unique<ClientConnection>(std::move(socket), listener.address);
            }
            if (tls) connection->start_tls(tls->native());
            if (open_connections(l) >= settings_.max_connections) {
                std::string answer =
                    error_response(settings_, 503, "server_busy", "too many open connections", 1);
                if (!tls) ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                continue;  // the connection closes with its object
            }
            // Plain connections are shared out in turn; TLS ones stay (their handshake state
            // lives here).
            if (!tls && loops_.size() > 1) {
                Loop& target = *loops_[next_loop_++ % loops_.size()];
                if (&target != &l) {
                    connection->loop = target.index;
                    {
                        std::lock_guard<std::mutex> lock(target.mutex);
                        target.fresh.push_back(std::move(connection));
                    }
                    wake(target);
                    continue;
                }
            }
            bool handshaking = connection->secure();
            watch(l, std::move(connection), Clock::now() + settings_.header_timeout, true);
            if (auto it = l.waiting.find(fd); handshaking && it != l.waiting.end()) {
                it->second->handshaking = true;
                // The handshake, like a head, must be done within header_timeout.
                it->second->idle = false;
            }
        } catch (const Poco::Exception&) {
            // The client went away already (peerAddress fails): nothing to serve.
        }
    }
}

void Front::watch(Loop& l, std::unique_ptr<ClientConnection> connection, Clock::time_point deadline,
                  bool idle, bool registered) {
    int fd = connection->fd();
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP;
    event.data.fd = fd;
    if (!registered && epoll_ctl(l.epoll, EPOLL_CTL_ADD, fd, &event) != 0) return;  // closes it
    auto waiting = std::make_unique<Waiting>();
    waiting->connection = std::move(connection);
    waiting->deadline = deadline;
    waiting->idle = idle;
    l.deadlines.insert({deadline, fd});
    l.waiting[fd] = std::move(waiting);
}

void Front::want_write(Loop& l, int fd, bool on) {
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u);
    event.data.fd = fd;
    epoll_ctl(l.epoll, EPOLL_CTL_MOD, fd, &event);
}

void Front::lend(Loop& l, int fd) {
    auto it = l.waiting.find(fd);
    if (it == l.waiting.end()) return;
    l.deadlines.erase({it->second->deadline, fd});
    l.waiting.erase(it);  // the connection object moved out: nothing is closed
    l.lent_at(fd) = Loop::Lent::registered;
}

void Front::forget(Loop& l, int fd) {
    auto it = l.waiting.find(fd);
    if (it == l.waiting.end()) return;
    epoll_ctl(l.epoll, EPOLL_CTL_DEL, fd, nullptr);
    l.deadlines.erase({it->second->deadline, fd});
    l.waiting.erase(it);  // closes the socket
}

void Front::on_readable(Loop& l, int fd) {
    auto it = l.waiting.find(fd);
    if (it == l.waiting.end()) {
        Loop::Lent& lent = l.lent_at(fd);
        if (lent == Loop::Lent::registered) {
            epoll_ctl(l.epoll, EPOLL_CTL_DEL, fd, nullptr);  // level-triggered: it would repeat
            lent = Loop::Lent::unregistered;
        }
        return;
    }
    Waiting& w = *it->second;
    if (w.closing) {
        char sink[16384];
        ssize_t n;
        while ((n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT)) > 0) {
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) forget(l, fd);
        return;
    }
    if (w.handshaking) {
        switch (w.connection->handshake()) {
            case ClientConnection::Handshake::failed:
                forget(l, fd);  // plain HTTP on a TLS port, or a client that does not trust us
                return;
            case ClientConnection::Handshake::want_read:
                want_write(l, fd, false);
                return;
            case ClientConnection::Handshake::want_write:
                want_write(l, fd, true);
                return;
            case ClientConnection::Handshake::done:
                want_write(l, fd, false);
                w.handshaking = false;
                break;  // application data may have come with the last flight
        }
    }
    size_t before = w.connection->pending().size();
    auto fill = w.connection->fill(settings_.limits.max_bytes + 1);
    std::string_view pending = w.connection->pending();
    if (pending.empty()) {
        if (fill == ClientConnection::Fill::closed) forget(l, fd);
        return;
    }
    if (w.idle) {
        // The first byte of a head: from now on the whole head has header_timeout to arrive.
        w.idle = false;
        l.deadlines.erase({w.deadline, fd});
        w.deadline = Clock::now() + settings_.header_timeout;
        l.deadlines.insert({w.deadline, fd});
    }
    examine(l, fd, before, fill == ClientConnection::Fill::closed);
}

void Front::examine(Loop& l, int fd, size_t before, bool closed, bool lane) {
    auto it = l.waiting.find(fd);
    if (it == l.waiting.end()) return;
    Waiting& w = *it->second;
    std::string_view pending = w.connection->pending();
    if (!accepting_) {
        answer_and_close(l, fd, 503, "shutting_down", "the engine is shutting down", 5);
        return;
    }
    // A head ends with a line feed: until one arrives, scanning again finds nothing new.
    bool news = pending.substr(before).find('\n') != std::string_view::npos ||
                pending.size() > settings_.limits.max_bytes ||
                pending.substr(before).find('\0') != std::string_view::npos;
    if (!news && !closed) return;
    HeadScan scan = scan_request_head(pending, settings_.limits);
    if (scan.status == HeadStatus::bad) {
        answer_and_close(l, fd, scan.error_status, scan.error_code, scan.error_message);
        return;
    }
    if (scan.status == HeadStatus::incomplete) {
        if (closed) forget(l, fd);
        return;
    }
    if (lane && l.lane && !w.connection->secure() &&
        l.lane->offer(w.connection, scan.head, accepting_)) {
        lend(l, fd);
        return;
    }
    if (busy_ >= static_cast<size_t>(settings_.threads)) {
        answer_and_close(l, fd, 503, "server_busy",
                         "every request thread is busy (server.threads = " +
                             std::to_string(settings_.threads) + "); try again shortly",
                         1);
        return;
    }
    std::unique_ptr<ClientConnection> connection = std::move(w.connection);
    forget(l, fd);  // the connection object moved out: nothing is closed
    dispatch(std::move(connection), std::move(scan.head));
}

void Front::resume_served(Loop& l) {
    while (!l.served.empty()) {
        auto served = std::move(l.served);
        l.served.clear();
        for (auto& [connection, next] : served) {
            const int fd = connection->fd();
            Loop::Lent& lent = l.lent_at(fd);
            const bool registered = lent == Loop::Lent::registered;
            lent = Loop::Lent::no;
            if (next == FastLane::Next::close || stopping_) continue;  // closes it
            if (next == FastLane::Next::wait && !accepting_) continue;
            const bool idle = connection->pending().empty();
            watch(l, std::move(connection),
                  Clock::now() + (idle ? settings_.keep_alive_timeout : settings_.header_timeout),
                  idle, registered);
            // A pipelined request, or one the lane gave up (it goes to a worker).
            if (!idle) examine(l, fd, 0, false, next != FastLane::Next::worker);
        }
    }
}

void Front::on_deadline(Loop& l, int fd) {
    auto it = l.waiting.find(fd);
    if (it == l.waiting.end()) {
        l.deadlines.erase(l.deadlines.begin());
        return;
    }
    Waiting& w = *it->second;
    if (w.closing || w.idle) {
        forget(l, fd);  // done lingering, or an idle keep-alive connection: close quietly
        return;
    }
    answer_and_close(l, fd, 408, "request_timeout",
                     "the request head did not arrive within " +
                         config_values::format_seconds(settings_.header_timeout) +
                         " (server.header_timeout)");
}

void Front::answer_and_close(Loop& l, int fd, int status, const std::string& code,
                             const std::string& message, int retry_after_s) {
    auto it = l.waiting.find(fd);
    if (it == l.waiting.end()) return;
    Waiting& w = *it->second;
    std::string answer = error_response(settings_, status, code, message, retry_after_s);
    if (!w.handshaking) w.connection->send_now(answer);
    ::shutdown(fd, SHUT_WR);
    w.closing = true;
    l.deadlines.erase({w.deadline, fd});
    w.deadline = Clock::now() + kLinger;
    l.deadlines.insert({w.deadline, fd});
}

void Front::dispatch(std::unique_ptr<ClientConnection> connection, RequestHead head) {
    ++busy_;
    try {
        Poco::Net::StreamSocket& socket = connection->socket();
        socket.setBlocking(true);
        socket.setReceiveTimeout(timespan(settings_.client_idle_timeout));
        socket.setSendTimeout(timespan(settings_.client_send_timeout));
        auto* raw = connection.release();
        auto job = new ConnectionJob([this, raw, head = std::move(head)]() mutable {
            serve(std::unique_ptr<ClientConnection>(raw), std::move(head));
        });
        try {
            pool_.start(*job);
        } catch (const Poco::Exception&) {
            delete job;  // never ran: the connection is ours again
            connection.reset(raw);
            throw;
        }
    } catch (const Poco::Exception& e) {
        --busy_;
        if (!connection) return;
        std::string answer = error_response(settings_, 503, "server_busy",
                                            "no request thread available: " + e.displayText(), 1);
        connection->send_now(answer);
    }
}

void Front::adopt_returned(Loop& l) {
    std::deque<std::unique_ptr<ClientConnection>> returned, fresh;
    {
        std::lock_guard<std::mutex> lock(l.mutex);
        returned.swap(l.returned);
        fresh.swap(l.fresh);
    }
    for (auto& connection : fresh) {
        if (!stopping_)
            watch(l, std::move(connection), Clock::now() + settings_.header_timeout, true);
    }
    for (auto& connection : returned) {
        if (stopping_) continue;
        bool idle = connection->pending().empty();
        auto wait = idle ? settings_.keep_alive_timeout : settings_.header_timeout;
        watch(l, std::move(connection), Clock::now() + wait, idle);
    }
}

// ---------------------------------------------------------------- worker threads

void Front::serve(std::unique_ptr<ClientConnection> connection, RequestHead head) {
    const int fd = connection->fd();
    {
        std::lock_guard<std::mutex> lock(serving_mutex_);
        serving_.insert(fd);
    }
    bool keep = true;
    while (keep) {
        connection->consume(head.size);
        ServerResponse response(*connection, head.method == "HEAD");
        ServerRequest request(head, *connection, response, *params_);
        response.setVersion(request.getVersion());
        response.set("Date", http_date_now());
        response.setKeepAlive(head.keep_alive && accepting_);
        try {
            std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
                handlers_->createRequestHandler(request));
            handler->handleRequest(request, response);
        } catch (const std::exception& e) {
            spdlog::error("http: {} {}: {}", head.method, head.target, e.what());
            if (!response.sent()) {
                connection->send_all(error_response(settings_, 500, "internal_error", e.what(), 0));
            }
            break;
        }
        keep = response.finish() && request.body_consumed() && accepting_;
        if (!keep) break;
        connection->drain_tls_pending();
        HeadScan next = scan_request_head(connection->pending(), settings_.limits);
        if (next.status == HeadStatus::complete) {
            head = std::move(next.head);  // pipelined: answered in order, on this thread
            continue;
        }
        // After a request of the kind the fast lane serves, the connection goes back to the
        // reactor at once: its next request is most likely one too, which no worker must hold.
        const bool lane_kind = loops_[0]->lane && loops_[0]->lane->may_serve(head);
        if (next.status == HeadStatus::incomplete && !connection->secure() && !lane_kind &&
            next_request_arrives(*connection)) {
            next = scan_request_head(connection->pending(), settings_.limits);
            if (next.status == HeadStatus::complete) {
                head = std::move(next.head);
                continue;
            }
        }
        if (next.status == HeadStatus::bad) {
            connection->send_all(error_response(settings_, next.error_status, next.error_code,
                                                next.error_message, 0));
            break;
        }
        {
            std::lock_guard<std::mutex> lock(serving_mutex_);
            serving_.erase(fd);
        }
        --busy_;
        hand_back(std::move(connection));
        return;
    }
    {
        std::lock_guard<std::mutex> lock(serving_mutex_);
        serving_.erase(fd);
    }
    --busy_;
    // connection closes here
}

// True if bytes of a next request arrived within kNextRequestWait (they are in pending()).
// Plain connections only: a TLS record may arrive in parts, and OpenSSL would block for the rest.
bool Front::next_request_arrives(ClientConnection& connection) {
    pollfd p{connection.fd(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(kNextRequestWait.count())) <= 0) return false;
    return connection.fill(settings_.limits.max_bytes + 1) == ClientConnection::Fill::some;
}

void Front::hand_back(std::unique_ptr<ClientConnection> connection) {
    try {
        connection->socket().setBlocking(false);
    } catch (const Poco::Exception&) {
        return;
    }
    Loop& home = *loops_[connection->loop];
    {
        std::lock_guard<std::mutex> lock(home.mutex);
        if (stopping_) return;
        home.returned.push_back(std::move(connection));
    }
    wake(home);
}

}  // namespace gradatum::http
