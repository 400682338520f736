#include "proxy/fast_lane.hpp"

#include <Poco/Net/HTTPResponse.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "gradatum/config_values.hpp"
#include "http/http_date.hpp"
#include "proxy/answer_body.hpp"
#include "proxy/client_hangup.hpp"
#include "proxy/front_door.hpp"
#include "proxy/openai_error.hpp"
#include "proxy/request_log.hpp"
#include "proxy/response_head.hpp"
#include "proxy/upstream_request.hpp"
#include "supervisor/fleet.hpp"
#include "supervisor/model_supervisor.hpp"

namespace gradatum::proxy {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadSize = 64 * 1024;
constexpr size_t kMaxHead = 64 * 1024;
// Timeouts are looked at this often (they are seconds long; a scan of the open requests is
// cheaper than a deadline kept per byte).
constexpr milliseconds kCheckEvery{100};

// The engine's own endpoints and the per-model passthrough stay with the workers.
bool engine_path(std::string_view path) {
    return path == "/health" || path == "/metrics" || path == "/v1/models" || path == "/admin" ||
           path.rfind("/admin/", 0) == 0 || path.rfind("/upstream/", 0) == 0;
}

// One non-blocking send of what `data` holds: bytes sent, or -1 with errno.
ssize_t send_some(int fd, const std::string& data) {
    ssize_t n;
    do {
        n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n;
}

// A socket's epoll data: the address of its tag, marked as the lane's.
template <class T>
uint64_t tag_of(const T& tag) {
    return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&tag)) | http::FastLane::kEventTag;
}
}  // namespace

struct FastLane::Exchange {
    std::unique_ptr<http::ClientConnection> client;
    std::shared_ptr<const Routes> routes;  // keeps the model alive while the request is served
    size_t head_size = 0;                  // of the client's request, consumed at the end
    std::string method;
    std::string uri;
    int minor = 1;
    bool keep_alive = true;
    std::string model;
    int model_index = -1;
    Fleet::Grant grant;
    std::unique_ptr<UpstreamConnection> upstream;
    Tag upstream_tag{nullptr, Side::upstream};
    Tag client_tag{nullptr, Side::client};
    bool client_watched = false;    // in the loop's set with the lane's tag
    bool client_unwatched = false;  // the loop's own registration was replaced

    std::string request;     // what is left to send of the request
    std::string head_bytes;  // a response head that did not come in one read
    bool any_byte = false;   // of the answer
    // Of the answer's head, what matters after it went out (its views do not outlive it).
    bool close = false;  // the child closes the connection after it
    bool event_stream = false;
    int64_t content_length = -1;
    std::optional<Body> body;
    Relay relay = Relay::verbatim;
    Framing framing = Framing::none;
    std::string to_client;  // what the client did not take yet
    bool head_sent = false;
    bool reusable = false;  // the answer is whole and the child keeps the connection
    uint64_t bytes_out = 0;
    std::string cut_by;
    int status = 0;

    Clock::time_point received_at = Clock::now();
    Clock::time_point head_at{};
    Clock::time_point upstream_activity = received_at;
    Clock::time_point client_activity = received_at;
    bool ended = false;
};

FastLane::FastLane(FrontDoor& door, milliseconds client_send_timeout)
    : door_(door),
      client_send_timeout_(client_send_timeout),
      read_buffer_(std::make_unique<char[]>(kReadSize)) {}

FastLane::~FastLane() {
    stop();
}

void FastLane::attach(Resume resume, int epoll) {
    resume_ = std::move(resume);
    epoll_ = epoll;
}

bool FastLane::may_serve(const http::RequestHead& head) const {
    if (head.method != "GET" && head.method != "HEAD") return false;
    if (head.chunked || head.expect_continue || head.content_length.value_or(0) != 0) return false;
    return !engine_path(std::string_view(head.target).substr(0, head.target.find('?')));
}

bool FastLane::offer(std::unique_ptr<http::ClientConnection>& connection,
                     const http::RequestHead& head, bool keep_alive) {
    const auto received_at = Clock::now();
    if (!may_serve(head)) return false;
    if (door_.draining || !door_.fleet || !door_.upstream) return false;
    if (door_.metrics_address && connection->server_address() == *door_.metrics_address)
        return false;
    std::shared_ptr<const Routes> routes = door_.routes.get();
    if (!routes->keys.accepts_fields(head.fields)) return false;  // a worker answers 401
    ModelSupervisor* model = routes->for_listener(connection->server_address());
    if (!model) {
        std::string error;
        model = routes->router.route(query_model(head.target), error);
        if (!model) return false;  // a worker answers 404
    }
    std::optional<Fleet::Grant> grant = door_.fleet->try_acquire(*model);
    if (!grant) return false;
    const Admission& admission = grant->admission;
    UpstreamPool& pool = *door_.upstream;
    std::unique_ptr<UpstreamConnection> upstream = pool.take(
        model->name(), admission.generation, admission.target.host, admission.target.port, true);
    if (!upstream) return false;  // a worker opens one (and gives it to the pool after)

    HeaderFields fields;
    fields.reserve(head.fields.size());
    for (const auto& [name, value] : head.fields) fields.emplace_back(name, value);
    OutgoingRequest out{head.method, head.target, head.minor_version,
                        false,       0,           head.content_length.has_value()};
    std::string request =
        upstream_request_head(out, fields, admission.target, true, connection->client_host_text());
    // The first write before the connection is taken: a pooled connection the child closed
    // fails here, and the request goes to a worker untouched.
    const ssize_t n = send_some(upstream->fd(), request);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    request.erase(0, n < 0 ? 0 : static_cast<size_t>(n));

    auto owned = std::make_unique<Exchange>();
    Exchange& x = *owned;
    x.upstream_tag.exchange = x.client_tag.exchange = &x;
    x.client = std::move(connection);
    x.routes = std::move(routes);
    x.received_at = received_at;
    x.head_size = head.size;
    x.method = head.method;
    x.uri = head.target;
    x.minor = head.minor_version;
    x.keep_alive = keep_alive && head.keep_alive;
    x.model = model->name();
    x.model_index = door_.metrics.model_index(x.model);
    x.grant = std::move(*grant);
    x.upstream = std::move(upstream);
    x.upstream->generation = admission.generation;
    x.request = std::move(request);
    // An admin stop that cannot wait shuts the connection; the lane then sees it end.
    x.grant.admission.ticket->set_abort([c = x.upstream.get()] { c->shutdown_now(); });
    live_.emplace(&x, std::move(owned));
    arm_upstream(x);
    if (next_check_ == Clock::time_point::max()) next_check_ = Clock::now() + kCheckEvery;
    return true;
}

// One-shot: each event disarms it, so a connection the lane is done with (given back to the
// pool, where a worker may take it) never reports to the lane, and needs no epoll_ctl to leave.
void FastLane::arm_upstream(Exchange& x) {
    if (!x.upstream) return;
    epoll_event event{};
    event.events = EPOLLIN | EPOLLONESHOT | (x.request.empty() ? 0u : EPOLLOUT);
    event.data.u64 = tag_of(x.upstream_tag);
    // Pooled connections stay in the set (disarmed) between requests: usually a MOD is all.
    // One new to this lane (fresh, or last used by another loop's lane) is added.
    if (epoll_ctl(epoll_, EPOLL_CTL_MOD, x.upstream->fd(), &event) != 0 && errno == ENOENT) {
        epoll_ctl(epoll_, EPOLL_CTL_ADD, x.upstream->fd(), &event);
    }
}

// Only while the client cannot take what the lane has for it; otherwise the client's socket
// stays in the loop's set as the loop has it (a hang-up meanwhile is found by end_turn()).
void FastLane::watch_client(Exchange& x, bool writing) {
    if (writing == x.client_watched) return;
    epoll_event event{};
    event.events = EPOLLOUT | EPOLLRDHUP;
    event.data.u64 = tag_of(x.client_tag);
    if (writing) {
        if (epoll_ctl(epoll_, EPOLL_CTL_MOD, x.client->fd(), &event) != 0 && errno == ENOENT) {
            epoll_ctl(epoll_, EPOLL_CTL_ADD, x.client->fd(), &event);
        }
        x.client_unwatched = true;  // the loop's registration is gone: it adds its own again
    } else {
        epoll_ctl(epoll_, EPOLL_CTL_DEL, x.client->fd(), nullptr);
    }
    x.client_watched = writing;
}

void FastLane::on_event(uint64_t data, uint32_t events) {
    Tag* tag = reinterpret_cast<Tag*>(static_cast<uintptr_t>(data & ~kEventTag));
    Exchange& x = *tag->exchange;
    if (x.ended) return;
    if (tag->side == Side::upstream) {
        if ((events & EPOLLOUT) && !x.request.empty()) send_request(x);
        if (!x.ended && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_upstream(x);
        // Disarmed by the event: armed again while more is to come and the client keeps up.
        if (!x.ended && x.to_client.empty()) arm_upstream(x);
    } else {
        on_client(x, events);
    }
}

void FastLane::end_turn(Clock::time_point now) {
    if (now >= next_check_) check_timeouts(now);
    ended_.clear();
}

Clock::time_point FastLane::next_deadline() const {
    return next_check_;
}

void FastLane::stop() {
    while (!live_.empty()) {
        Exchange& x = *live_.begin()->second;
        x.cut_by = "engine";
        if (x.upstream) x.upstream->shutdown_now();
        end(x, Next::close);
    }
    ended_.clear();
    resume_ = nullptr;  // the front is going
}

void FastLane::send_request(Exchange& x) {
    const ssize_t n = send_some(x.upstream->fd(), x.request);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        to_worker(x);  // the child closed the pooled connection: nothing was answered
        return;
    }
    x.request.erase(0, static_cast<size_t>(n));
    x.upstream_activity = Clock::now();
}

void FastLane::on_upstream(Exchange& x) {
    char* buffer = read_buffer_.get();
    // A bounded number of reads per turn: one busy answer must not hold up the others.
    for (int reads = 0; reads < 16 && !x.ended && x.upstream && x.to_client.empty(); ++reads) {
        ssize_t n = ::recv(x.upstream->fd(), buffer, kReadSize, MSG_DONTWAIT);
        if (n > 0) {
            x.upstream_activity = Clock::now();
            x.any_byte = true;
            if (!x.body) {
                if (!take_head(x, buffer, static_cast<size_t>(n))) return;
            } else {
                pass_on(x, buffer, static_cast<size_t>(n));
            }
            if (static_cast<size_t>(n) < kReadSize) return;  // epoll reports what comes next
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        const std::string why = n < 0 ? std::strerror(errno) : "";
        if (!x.any_byte) {
            // Closed before a byte of an answer: a pooled connection the child gave up, or a
            // child that died or was stopped. A worker decides (retry, next child, or error).
            to_worker(x);
            return;
        }
        if (x.body && x.framing == Framing::until_close && !x.grant.admission.ticket->aborted()) {
            Batch out;
            x.body->end(out);
            out.send_now(x.client->fd(), x.to_client);
            x.reusable = false;
            drop_upstream(x);
            if (x.to_client.empty()) {
                complete(x);
            } else {
                watch_client(x, true);
            }
            return;
        }
        broke(x, why.empty() ? "the backend closed the connection before the response was complete"
                             : why);
        return;
    }
}

// Parses the answer's head where it was read (one that comes in parts is gathered in
// head_bytes); then the head the client gets and the first body bytes go out together.
bool FastLane::take_head(Exchange& x, const char* data, size_t size) {
    if (!x.head_bytes.empty()) {
        x.head_bytes.append(data, size);
        data = x.head_bytes.data();
        size = x.head_bytes.size();
    }
    while (true) {
        size_t head_size = 0;
        std::string bad;
        ResponseHead head;  // views into `data`: used before this function returns, never after
        HeadParse parsed = parse_response_head(data, size, head, head_size, bad);
        if (parsed == HeadParse::bad) {
            fail(x, errors::upstream_failed,
                 "the backend of model '" + x.model + "' failed: " + bad);
            return false;
        }
        if (parsed == HeadParse::incomplete) {
            if (size > kMaxHead) {
                fail(x, errors::upstream_failed,
                     "the backend of model '" + x.model +
                         "' failed: response head larger than 64 KiB");
                return false;
            }
            x.head_bytes.assign(std::string(data, size));  // `data` may point into it
            return true;
        }
        if (head.status >= 100 && head.status < 200) {
            if (head.status == 101) {
                fail(x, errors::upstream_failed,
                     "the backend of model '" + x.model +
                         "' switched protocols, which the engine cannot forward");
                return false;
            }
            data += head_size;  // interim heads (103 Early Hints) are skipped
            size -= head_size;
            continue;
        }
        x.framing = framing_of(x.method, head);
        const bool old_client = x.minor == 0;
        x.relay = Relay::verbatim;
        if (x.framing == Framing::chunked) x.relay = old_client ? Relay::decode : Relay::chunks;
        if (x.framing == Framing::until_close) x.relay = old_client ? Relay::raw : Relay::rechunk;
        // HTTP/1.0 has no chunked encoding: the close ends such a body.
        if (x.relay == Relay::decode || x.relay == Relay::raw) x.keep_alive = false;
        x.body.emplace(x.framing, x.relay, head.content_length);
        x.status = head.status;
        x.close = head.close;
        x.event_stream = head.event_stream;
        x.content_length = head.content_length;

        std::string out_head;
        out_head.reserve(256 + head.fields.size() * 48);
        out_head += x.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
        out_head += std::to_string(head.status);
        out_head += ' ';
        out_head.append(head.reason.data(), head.reason.size());
        out_head += "\r\n";
        if (!head.has_date) {
            out_head += "Date: ";
            out_head += http::http_date_now();
            out_head += "\r\n";
        }
        append_child_fields(out_head, head, x.framing, x.relay, x.keep_alive);
        Batch first;
        first.add(out_head.data(), out_head.size());
        if (!x.body->take(data + head_size, size - head_size, first)) {
            broke(x, "bad chunked framing from the backend");
            return false;
        }
        x.head_sent = true;
        x.head_at = Clock::now();
        x.bytes_out += first.total() - out_head.size();
        x.reusable = x.body->complete() && !x.close && !x.body->overrun() && !x.event_stream;
        // The whole answer in hand: the connection goes back before the client has it, so the
        // client's next request finds it in the pool.
        if (x.reusable) release_upstream(x);
        const bool sent = first.send_now(x.client->fd(), x.to_client);  // copies what is left
        x.head_bytes.clear();
        if (!sent) {
            client_left(x);
            return false;
        }
        flush(x);
        return !x.ended;
    }
}

void FastLane::pass_on(Exchange& x, const char* data, size_t size) {
    Batch out;
    if (!x.body->take(data, size, out)) {
        broke(x, "bad chunked framing from the backend");
        return;
    }
    x.bytes_out += out.total();
    if (x.body->complete()) {
        x.reusable = !x.close && !x.body->overrun() && !x.event_stream;
        if (x.reusable) release_upstream(x);
    }
    if (!out.send_now(x.client->fd(), x.to_client)) {
        client_left(x);
        return;
    }
    flush(x);
}

// After a write to the client: done, waiting for the client to read, or reading on.
void FastLane::flush(Exchange& x) {
    if (!x.to_client.empty()) {
        x.client_activity = Clock::now();
        watch_client(x, true);  // the child is not read meanwhile: its connection stays disarmed
        return;
    }
    if (x.body && x.body->complete()) complete(x);
}

void FastLane::on_client(Exchange& x, uint32_t events) {
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        client_left(x);
        return;
    }
    if (!(events & EPOLLOUT) || x.to_client.empty()) return;
    const ssize_t n = send_some(x.client->fd(), x.to_client);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        client_left(x);
        return;
    }
    x.to_client.erase(0, static_cast<size_t>(n));
    x.client_activity = Clock::now();
    if (!x.to_client.empty()) return;
    watch_client(x, false);
    flush(x);
    if (!x.ended) arm_upstream(x);  // read on
}

void FastLane::check_timeouts(Clock::time_point now) {
    next_check_ = live_.empty() ? Clock::time_point::max() : now + kCheckEvery;
    const UpstreamSettings& settings = door_.upstream->settings();
    std::vector<Exchange*> late, gone;
    for (auto& [key, x] : live_) {
        if (x->to_client.empty() && now - x->received_at >= kCheckEvery &&
            client_closed(x->client->fd())) {
            gone.push_back(key);
            continue;
        }
        if (!x->to_client.empty()) {
            if (now - x->client_activity >= client_send_timeout_) late.push_back(key);
        } else if (x->upstream) {
            const milliseconds limit =
                x->any_byte ? door_.upstream_idle_timeout
                            : std::min(settings.header_timeout, door_.upstream_idle_timeout);
            if (now - x->upstream_activity >= limit) late.push_back(key);
        }
    }
    for (Exchange* x : gone) client_left(*x);
    for (Exchange* x : late) {
        if (x->ended) continue;
        if (!x->to_client.empty()) {
            client_left(*x);  // it stopped reading
        } else if (!x->any_byte) {
            const bool header = settings.header_timeout <= door_.upstream_idle_timeout;
            const std::string why =
                header ? "no response from the backend within " +
                             config_values::format_seconds(settings.header_timeout) +
                             " (server.upstream_header_timeout)"
                       : "no bytes from the backend for " +
                             config_values::format_seconds(door_.upstream_idle_timeout) +
                             " (server.upstream_idle_timeout)";
            x->upstream->shutdown_now();
            fail(*x, errors::upstream_timeout, why);
        } else {
            broke(*x, "no bytes from the backend for " +
                          config_values::format_seconds(door_.upstream_idle_timeout) +
                          " (server.upstream_idle_timeout)");
        }
    }
}

void FastLane::release_upstream(Exchange& x) {
    x.grant.admission.ticket->set_abort(nullptr);  // no abort may reach a lent connection
    ++x.upstream->requests;
    if (x.grant.admission.ticket->aborted()) {
        x.upstream.reset();  // the stop may have shut it: never lend it
    } else {
        door_.upstream->give_back(x.model, std::move(x.upstream));
    }
}

void FastLane::drop_upstream(Exchange& x) {
    if (!x.upstream) return;
    x.grant.admission.ticket->set_abort(nullptr);
    x.upstream.reset();
}

void FastLane::complete(Exchange& x) {
    end(x, x.keep_alive ? Next::wait : Next::close);
}

void FastLane::fail(Exchange& x, const ErrorKind& kind, const std::string& message) {
    spdlog::warn("model {}: {} {}: {}", x.model, x.method, x.uri, message);
    drop_upstream(x);
    const int status = kind.status;
    const std::string body = error_json(kind, message);
    std::string answer =
        (x.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ") + std::to_string(status) + " " +
        Poco::Net::HTTPResponse::getReasonForStatus(
            static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status)) +
        "\r\nDate: " + http::http_date_now() +
        "\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: " +
        std::to_string(body.size()) +
        (x.keep_alive ? "\r\nConnection: Keep-Alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n") +
        body;
    x.status = status;
    x.head_sent = true;
    x.head_at = Clock::now();
    x.bytes_out = body.size();
    x.body.emplace(Framing::none, Relay::verbatim, 0);  // nothing more to read
    Batch out;
    out.add(answer.data(), answer.size());
    if (!out.send_now(x.client->fd(), x.to_client)) {
        client_left(x);
        return;
    }
    flush(x);
}

void FastLane::broke(Exchange& x, const std::string& why) {
    const bool aborted = x.grant.admission.ticket && x.grant.admission.ticket->aborted();
    x.cut_by = aborted ? "engine" : "backend";
    if (x.upstream) x.upstream->shutdown_now();
    drop_upstream(x);
    const std::string message =
        aborted ? "model '" + x.model + "' was stopped before the response was complete"
                : "the backend of model '" + x.model + "' ended the response early: " + why;
    if (!x.head_sent) {
        const std::string cut = x.cut_by;
        fail(x, errors::upstream_failed, message);
        x.cut_by = cut;
        return;
    }
    spdlog::warn("model {}: {} {}: {}", x.model, x.method, x.uri, message);
    if (x.event_stream && x.content_length < 0) {
        // Clients of a stream never hang: they get a last event saying what happened.
        Batch out;
        if (x.body->end_with_event(sse_error_event(errors::upstream_failed, message), out)) {
            if (!out.send_now(x.client->fd(), x.to_client)) {
                x.keep_alive = false;
                end(x, Next::close);
                return;
            }
            x.body.emplace(Framing::none, Relay::verbatim, 0);
            flush(x);
            return;
        }
    }
    // A body cut short cannot be mended; the client must see that it is cut: an early end of a
    // framed body says so, a close-delimited one (HTTP/1.0) is reset.
    struct linger reset {
        1, 0
    };
    ::setsockopt(x.client->fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    if (x.relay == Relay::verbatim || x.relay == Relay::chunks || x.relay == Relay::rechunk) {
        ::shutdown(x.client->fd(), SHUT_RDWR);
    }
    end(x, Next::close);
}

void FastLane::client_left(Exchange& x) {
    x.cut_by = "client";
    if (x.upstream) x.upstream->shutdown_now();
    drop_upstream(x);
    spdlog::debug("model {}: {} {}: client went away", x.model, x.method, x.uri);
    end(x, Next::close);
}

void FastLane::to_worker(Exchange& x) {
    spdlog::debug(
        "model {}: {} {}: the pooled connection closed before an answer; a worker "
        "sends it again",
        x.model, x.method, x.uri);
    drop_upstream(x);
    end(x, Next::worker);
}

void FastLane::end(Exchange& x, Next next) {
    x.ended = true;
    drop_upstream(x);
    watch_client(x, false);
    if (next != Next::worker) {
        using Seconds = std::chrono::duration<double>;
        const auto now = Clock::now();
        AnsweredRequest r;
        r.client = x.client->client_text();
        r.model = x.model;
        r.model_index = x.model_index;
        r.method = x.method;
        r.uri = x.uri;
        r.status = x.head_sent ? x.status : 0;
        r.seconds = Seconds(now - x.received_at).count();
        if (x.head_sent) r.first_byte_s = Seconds(x.head_at - x.received_at).count();
        r.bytes_out = x.bytes_out;
        r.cut_by = x.cut_by;
        log_request(door_.metrics, door_.access_log, r);
        x.client->consume(x.head_size);
    }
    x.grant = Fleet::Grant{};  // the ticket and the lease end: the model is idle again
    auto it = live_.find(&x);
    std::unique_ptr<Exchange> owned = std::move(it->second);
    live_.erase(it);
    if (resume_) resume_(std::move(x.client), next, x.client_unwatched);
    ended_.push_back(std::move(owned));  // events of this turn may still name it
}

}  // namespace gradatum::proxy
