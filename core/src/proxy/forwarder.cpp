// The hot path: request out, response back, byte for byte and event by event.
//
// The request head and body leave in one sendmsg on a pooled connection; the response is read
// with raw recv()s (what has arrived, never a full buffer) and passed on as it comes: the head
// the proxy writes and the first body bytes in one sendmsg, then one write per read. Chunked
// bodies go to HTTP/1.1 clients verbatim: a ChunkedRelay only follows the framing, so that a
// child dying mid-body is told apart from a normal end and the client's stream can still be
// ended properly. Poco's response streams are not used on this path: they copy through 4 KiB
// buffers and would add framing of their own.
#include "forwarder.hpp"

#include <Poco/Net/StreamSocket.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>

#include "answer_body.hpp"
#include "child_gone.hpp"
#include "chunked_decoder.hpp"
#include "client_hangup.hpp"
#include "gradatum/config_values.hpp"
#include "header_rules.hpp"
#include "http/send_all.hpp"
#include "http/server_request.hpp"
#include "http/server_response.hpp"
#include "openai_error.hpp"
#include "response_head.hpp"
#include "sse_answer.hpp"
#include "stream_relay.hpp"
#include "upstream_request.hpp"
#include "upstream_session.hpp"

namespace gradatum::proxy {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// While the child is silent, how often to look whether the client left: a client that gives up
// frees its llama-server slot (which itself notices a closed connection within 1 s).
constexpr milliseconds kClientCheckEvery{100};
constexpr size_t kReadSize = 16 * 1024;
constexpr size_t kRelayRead = 64 * 1024;  // one read of an event stream on the relay thread
constexpr size_t kMaxHead = 64 * 1024;
// Of a child's error answer behind the engine's own SSE head, at most this much is read.
constexpr size_t kMaxErrorBody = 64 * 1024;

// ---- the client's socket -------------------------------------------------------------------

using http::send_all;  // every byte or false (the client is gone, or stopped reading)

// Methods a client may repeat without a second effect (RFC 9110 9.2.2).
bool idempotent(const std::string& method) {
    return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
           method == "PUT" || method == "DELETE";
}

// The head the client gets: the child's status and end-to-end headers, the engine's own (Date
// unless the child sent one), framing and Connection.
std::string client_head(const Poco::Net::HTTPServerResponse& response, const ResponseHead& up,
                        Framing framing, Relay relay, bool keep_alive) {
    std::string head;
    head.reserve(256 + up.fields.size() * 48);
    head += response.getVersion();
    head += ' ';
    head += std::to_string(up.status);
    head += ' ';
    head.append(up.reason.data(), up.reason.size());
    head += "\r\n";
    for (const auto& [name, value] : response) {
        if (iequals(name, "connection") || iequals(name, "content-length") ||
            iequals(name, "transfer-encoding") || (up.has_date && iequals(name, "date"))) {
            continue;
        }
        head += name;
        head += ": ";
        head += value;
        head += "\r\n";
    }
    append_child_fields(head, up, framing, relay, keep_alive);
    return head;
}

// Clears the request's abort function before the connection it points to goes away.
struct AbortGuard {
    InFlight::Ticket& ticket;
    ~AbortGuard() { ticket.set_abort(nullptr); }
};

// ---- event streams on the relay thread -------------------------------------------------------

// An event stream while the relay thread moves it: reads what the child sent, passes it on, and
// says why it stopped when it hands the stream back.
class RelayedStream : public StreamRelay::Stream {
  public:
    enum class Stop { none, complete, client_busy, client_gone, end, error, bad_framing, idle };

    RelayedStream(int upstream_fd, int client_fd, Body& body, milliseconds idle_timeout)
        : Stream(upstream_fd, client_fd), body_(body), idle_(idle_timeout) {}

    bool on_upstream() override {
        // Allocated by the relay thread alone: a thread_local array would be static TLS,
        // reserved and zeroed in every thread of the process (64 KiB per request thread).
        static thread_local std::unique_ptr<char[]> owned;
        if (!owned) owned = std::make_unique<char[]>(kRelayRead);
        char* buffer = owned.get();
        // A bounded number of reads per wake-up: one busy stream must not hold up the others.
        for (int reads = 0; reads < 16; ++reads) {
            ssize_t n = ::recv(upstream_fd, buffer, kRelayRead, MSG_DONTWAIT);
            if (n > 0) {
                last_ = Clock::now();
                Batch out;
                if (!body_.take(buffer, static_cast<size_t>(n), out))
                    return stop(Stop::bad_framing);
                const size_t before = rest.size();
                if (!out.send_now(client_fd, rest)) return stop(Stop::client_gone);
                sent += out.total() - (rest.size() - before);
                if (!rest.empty()) return stop(Stop::client_busy);
                if (body_.complete()) return stop(Stop::complete);
                // A short read took all there was: epoll (level-triggered) reports the next
                // bytes, so the recv() that would only say EAGAIN is saved, once per event.
                if (static_cast<size_t>(n) < kRelayRead) return true;
                continue;
            }
            if (n == 0) return stop(Stop::end);
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
            why = std::strerror(errno);
            return stop(Stop::error);
        }
        return true;
    }
    void on_client_gone() override { stopped = Stop::client_gone; }
    Clock::time_point deadline() const override { return last_ + idle_; }
    bool on_deadline(Clock::time_point now) override {
        return now - last_ < idle_ || stop(Stop::idle);
    }
    void on_relay_stopping() override {
        why = "the engine is stopping";
        stopped = Stop::error;
    }

    Stop stopped = Stop::none;
    std::string why;
    std::string rest;   // bytes the client could not take at once
    uint64_t sent = 0;  // body bytes written on the relay thread (for the metrics)

  private:
    bool stop(Stop why_stopped) {
        stopped = why_stopped;
        return false;
    }

    Body& body_;
    const milliseconds idle_;
    Clock::time_point last_ = Clock::now();
};

// ---- one exchange on one connection ---------------------------------------------------------

enum class Outcome {
    done,      // the client has its answer (or an error, or went away)
    retry,     // a pooled connection was found closed before the request got through
    reuse,     // done, and the connection may carry another request
    released,  // done; the connection went back to the pool before the last write to the client
    gone,      // the child is gone and answered nothing: the request may go to the next child
};

class Exchange {
  public:
    // `release`: hands the connection back to the pool; called at most once, when the whole
    // answer came in the first read, before it is written to the client (after it, the exchange
    // never touches `upstream` again). Null: no pool.
    Exchange(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
             const ForwardJob& job, UpstreamConnection& upstream, bool reused,
             std::function<void()> release)
        : request_(request),
          response_(response),
          job_(job),
          upstream_(upstream),
          reused_(reused),
          release_(std::move(release)),
          client_(static_cast<http::ServerRequest&>(request).socket()),
          connection_(static_cast<http::ServerRequest&>(request).connection()),
          client_fd_(client_.impl()->sockfd()),
          what_(request.getMethod() + " " + request.getURI()) {}

    // Who cut the answer short, for the access log ("" when it was whole).
    const std::string& cut_by() const { return cut_by_; }
    // Why the child is taken for gone (Outcome::gone), or the error that ended an event stream
    // begun by the engine (ForwardJob::sse_head_sent).
    const std::string& error() const { return error_; }

    Outcome run(const std::string& head, const std::string& body) {
        iovec out[2] = {{const_cast<char*>(head.data()), head.size()},
                        {const_cast<char*>(body.data()), body.size()}};
        if (!upstream_.send_all(out, body.empty() ? 1 : 2)) {
            if (reused_) return Outcome::retry;  // nothing of it can have been answered
            const std::string why = std::strerror(errno);
            if (!job_.ticket.aborted() && child_died()) {
                return gone("the child of model '" + job_.model +
                            "' went away while the request was sent (" + why + ")");
            }
            return fail(errors::upstream_failed, "the backend of model '" + job_.model +
                                                     "' failed: cannot send the request: " + why);
        }
        return receive();
    }

  private:
    enum class Got { bytes, end, client_gone, timeout, error };

    // Reads what the child sends next. Before the first byte the header timeout (and the idle
    // timeout) applies, later only the idle timeout: silence, never a total time.
    Got read(char* buffer, size_t capacity, ssize_t& n) {
        const auto started = Clock::now();
        const milliseconds limit =
            first_byte_ ? std::min(job_.upstream.settings().header_timeout, job_.idle_timeout)
                        : job_.idle_timeout;
        while (true) {
            auto left = limit - std::chrono::duration_cast<milliseconds>(Clock::now() - started);
            if (left <= milliseconds(0)) {
                if (first_byte_ && job_.upstream.settings().header_timeout <= job_.idle_timeout) {
                    why_ = "no response from the backend within " +
                           config_values::format_seconds(limit) +
                           " (server.upstream_header_timeout)";
                } else {
                    why_ = "no bytes from the backend for " + config_values::format_seconds(limit) +
                           " (server.upstream_idle_timeout)";
                }
                return Got::timeout;
            }
            upstream_.set_wait_slice(std::min(kClientCheckEvery, left));
            n = upstream_.receive(buffer, capacity);
            if (n > 0) {
                first_byte_ = false;
                return Got::bytes;
            }
            if (n == 0) return Got::end;
            if (errno != EAGAIN) {
                last_errno_ = errno;
                why_ = std::strerror(errno);
                return Got::error;
            }
            if (client_closed(client_fd_)) return Got::client_gone;
        }
    }

    // An error in place of the answer: a JSON error response, or behind the engine's own SSE
    // head, the stream's last event.
    Outcome fail(const ErrorKind& kind, const std::string& message) {
        spdlog::warn("model {}: {}: {}", job_.model, what_, message);
        if (job_.sse_head_sent) return end_events(sse_error_event(kind, message), message);
        try {
            send_error(response_, kind, message);
        } catch (const Poco::Exception&) {
        }
        return Outcome::done;
    }

    // Ends an event stream that the engine began (no byte of the child's body was sent) with
    // `event`. The answer counts as cut by the child (or by a stop).
    Outcome end_events(const std::string& event, const std::string& error) {
        cut_by_ = job_.ticket.aborted() ? "engine" : "backend";
        error_ = error;
        end_event_stream(request_, response_, event);
        return Outcome::done;
    }

    // The connection to the child closed or broke and its port takes no connection any more.
    bool child_died() const {
        return process_exiting(job_.child_pid) ||
               child_stopped_listening(job_.target.host, job_.target.port);
    }

    Outcome gone(const std::string& why) {
        upstream_.shutdown_now();
        error_ = why;
        return Outcome::gone;
    }

    std::string stopped_or(const std::string& message) const {
        return job_.ticket.aborted() ? "model '" + job_.model + "' was stopped before it answered"
                                     : message;
    }

    Outcome receive() {
        char buffer[kReadSize];
        std::string spill;  // a head that did not come in one read
        ResponseHead head;
        size_t head_size = 0;
        const char* data = buffer;
        size_t size = 0;
        while (true) {
            ssize_t n = 0;
            switch (read(buffer, sizeof buffer, n)) {
                case Got::bytes:
                    break;
                case Got::client_gone:
                    cut_by_ = "client";
                    upstream_.shutdown_now();
                    spdlog::debug("model {}: {}: client went away before the answer", job_.model,
                                  what_);
                    return Outcome::done;
                case Got::timeout:
                    upstream_.shutdown_now();
                    return fail(errors::upstream_timeout, why_);
                case Got::end:
                case Got::error: {
                    const bool unread = last_errno_ == ECONNRESET;
                    if (first_byte_ && !job_.ticket.aborted()) {
                        // No byte of an answer on a pooled connection: the child gave it up (it
                        // closed it, or died). A reset means the request was still unread in
                        // the child's buffer when its socket closed (Linux resets a socket
                        // closed with unread data), so it was never processed: send it again,
                        // whatever the method, on a new connection. A plain end of stream may
                        // follow a request the child had read: only an idempotent one goes
                        // again (a dead child then refuses the new connection).
                        if (reused_ && (unread || idempotent(request_.getMethod()))) {
                            return Outcome::retry;
                        }
                        // On a fresh connection the same reset means the child is dying (it
                        // accepted, then closed with the request unread): like a refused
                        // connect, nothing was processed or answered.
                        if (!reused_ && unread) {
                            return gone("the backend of model '" + job_.model +
                                        "' reset the connection before reading the request");
                        }
                        // The child closed after it had the request, before a byte of its
                        // answer. If it died (killed while generating: llama-server sends a
                        // non-streaming answer's head when it is complete), nothing reached the
                        // client and the request goes to the next child; a live child closed on
                        // purpose, and may have acted on it: no second copy.
                        if (child_died()) {
                            return gone("the child of model '" + job_.model +
                                        "' went away before answering (the connection closed " +
                                        "after the request was sent" +
                                        (why_.empty() ? "" : ": " + why_) +
                                        ", and the child is exiting or its port refuses "
                                        "connections)");
                        }
                    }
                    return fail(errors::upstream_failed,
                                stopped_or("the backend of model '" + job_.model +
                                           "' failed: the connection closed before the "
                                           "response" +
                                           (why_.empty() ? "" : " (" + why_ + ")")));
                }
            }
            if (spill.empty()) {
                data = buffer;
                size = static_cast<size_t>(n);
            } else {
                spill.append(buffer, static_cast<size_t>(n));
                data = spill.data();
                size = spill.size();
            }
            // Interim 1xx heads (100 Continue, 103 Early Hints) are skipped.
            while (true) {
                std::string bad;
                HeadParse parsed = parse_response_head(data, size, head, head_size, bad);
                if (parsed == HeadParse::bad) {
                    upstream_.shutdown_now();
                    return fail(errors::upstream_failed,
                                "the backend of model '" + job_.model + "' failed: " + bad);
                }
                if (parsed == HeadParse::incomplete) break;
                if (head.status >= 100 && head.status < 200) {
                    if (head.status == 101) {
                        upstream_.shutdown_now();
                        return fail(errors::upstream_failed,
                                    "the backend of model '" + job_.model +
                                        "' switched protocols, which the engine cannot "
                                        "forward");
                    }
                    data += head_size;
                    size -= head_size;
                    continue;
                }
                return respond(head, data + head_size, size - head_size);
            }
            if (size > kMaxHead) {
                upstream_.shutdown_now();
                return fail(errors::upstream_failed,
                            "the backend of model '" + job_.model +
                                "' failed: response head larger than 64 KiB");
            }
            // Keep the partial head: the next read reuses the buffer.
            std::string partial(data, size);
            spill = std::move(partial);
        }
    }

    // The head is in; `rest` are the first body bytes. Streams the body to the client.
    Outcome respond(const ResponseHead& head, const char* rest, size_t rest_size) {
        const Framing framing = framing_of(request_.getMethod(), head);
        const bool sse = job_.sse_head_sent;
        if (sse && (head.status != 200 || !head.event_stream || framing == Framing::none)) {
            return answer_as_event(head, framing, rest, rest_size);
        }
        // Behind the engine's own SSE head the client's body is chunked, unless its head said
        // otherwise (HTTP/1.0: the close ends it).
        const bool old_client = sse ? !response_.getChunkedTransferEncoding()
                                    : response_.getVersion() == Poco::Net::HTTPMessage::HTTP_1_0;
        Relay relay = Relay::verbatim;
        if (framing == Framing::chunked) relay = old_client ? Relay::decode : Relay::chunks;
        if (framing == Framing::until_close) relay = old_client ? Relay::raw : Relay::rechunk;
        if (sse && framing == Framing::content_length && !old_client) relay = Relay::rechunk;
        relay_ = relay;
        // HTTP/1.0 has no chunked encoding: the close ends such a body.
        if (relay == Relay::decode || relay == Relay::raw) response_.setKeepAlive(false);
        std::string out_head;
        if (!sse) {
            response_.setStatusAndReason(
                static_cast<Poco::Net::HTTPResponse::HTTPStatus>(head.status),
                std::string(head.reason));
            out_head = client_head(response_, head, framing, relay, response_.getKeepAlive());
        }
        Body body(framing, relay, head.content_length);

        Batch first;
        first.add(out_head.data(), out_head.size());
        if (!body.take(rest, rest_size, first)) return broke(head, body, "bad chunked framing");
        if (relay == Relay::rechunk && framing == Framing::content_length &&
            head.content_length == 0) {
            first.add(ChunkedRelay::kLastChunk, 5);  // an empty body: nothing else ends it
        }
        head_sent_ = true;  // from here on, whatever happens, the client had an answer begun
        if (sse) {
            static_cast<http::ServerResponse&>(response_).take_over_body();
        } else {
            static_cast<http::ServerResponse&>(response_).mark_sent_by_handler();
        }
        // The whole answer in hand (the usual small answer): the connection goes back to the
        // pool before the client has the answer, so the client's next request finds it there.
        if (release_ && body.complete() && !head.close && !body.overrun() && !head.event_stream) {
            release_();
            if (!first.send(connection_)) {
                cut_by_ = "client";
                response_.setKeepAlive(false);
                return Outcome::released;
            }
            sent_body(first.total() - out_head.size());
            return Outcome::released;
        }
        if (!first.send(connection_)) return client_left();
        sent_body(first.total() - out_head.size());
        // Event streams move on the relay thread; TLS connections stay with their thread (an
        // OpenSSL session is written by one thread, blocking).
        if (head.event_stream && !body.complete() && !connection_.secure()) {
            return relay_events(head, body, framing);
        }
        char buffer[kReadSize];
        while (!body.complete()) {
            ssize_t n = 0;
            Batch out;
            switch (read(buffer, sizeof buffer, n)) {
                case Got::bytes:
                    if (!body.take(buffer, static_cast<size_t>(n), out)) {
                        return broke(head, body, "bad chunked framing from the backend");
                    }
                    if (!out.send(connection_)) return client_left();
                    sent_body(out.total());
                    continue;
                case Got::end:
                    return upstream_closed(head, body, framing);
                case Got::client_gone:
                    return client_left();
                case Got::timeout:
                case Got::error:
                    return broke(head, body, why_);
            }
        }
        // Complete. Streams and odd endings never go back to the pool.
        if (head.close || body.overrun() || head.event_stream) return Outcome::done;
        return Outcome::reuse;
    }

    // Behind the engine's own SSE head, an answer other than a 200 event stream (an error,
    // mostly) is read whole and becomes the stream's last event.
    Outcome answer_as_event(const ResponseHead& head, Framing framing, const char* rest,
                            size_t rest_size) {
        Relay relay = Relay::verbatim;  // the payload alone, for the event
        if (framing == Framing::chunked) relay = Relay::decode;
        if (framing == Framing::until_close) relay = Relay::raw;
        Body body(framing, relay, head.content_length);
        std::string text;
        Batch first;
        bool whole = body.take(rest, rest_size, first);
        first.append_to(text);
        char buffer[kReadSize];
        while (whole && !body.complete() && text.size() <= kMaxErrorBody) {
            ssize_t n = 0;
            Batch out;
            Got got = read(buffer, sizeof buffer, n);
            if (got == Got::bytes) {
                whole = body.take(buffer, static_cast<size_t>(n), out);
                out.append_to(text);
            } else if (got == Got::end && framing == Framing::until_close) {
                body.end(out);
            } else if (got == Got::client_gone) {
                return client_left();
            } else {
                whole = false;  // cut short: what came is still worth quoting
            }
        }
        std::string content_type;
        for (const auto& [name, value] : head.fields) {
            if (iequals(name, "content-type")) content_type.assign(value.data(), value.size());
        }
        const std::string error = "the backend of model '" + job_.model + "' answered " +
                                  std::to_string(head.status) + " " + std::string(head.reason) +
                                  " to a stream that the engine had begun";
        spdlog::warn("model {}: {}: {}", job_.model, what_, error);
        const bool reusable = whole && body.complete() && !head.close && !body.overrun() &&
                              framing != Framing::until_close;
        if (!reusable) upstream_.shutdown_now();
        end_events(sse_event_for_answer(job_.model, head.status, head.reason, content_type, text),
                   error);
        return reusable ? Outcome::reuse : Outcome::done;
    }

    // The rest of an event stream, moved by the relay thread; this thread waits, and steps in
    // only when the stream stops (or its client cannot take a write at once).
    Outcome relay_events(const ResponseHead& head, Body& body, Framing framing) {
        RelayedStream stream(upstream_.fd(), client_fd_, body, job_.idle_timeout);
        while (true) {
            stream.stopped = RelayedStream::Stop::none;
            job_.upstream.relay().run(stream);
            sent_body(stream.sent);
            stream.sent = 0;
            switch (stream.stopped) {
                case RelayedStream::Stop::complete:
                    return Outcome::done;  // streams never go back to the pool
                case RelayedStream::Stop::client_busy: {
                    iovec part{stream.rest.data(), stream.rest.size()};
                    bool sent = send_all(client_fd_, &part, 1);  // bounded by the send timeout
                    sent_body(stream.rest.size());
                    stream.rest.clear();
                    if (!sent) return client_left();
                    if (body.complete()) return Outcome::done;
                    continue;
                }
                case RelayedStream::Stop::client_gone:
                    return client_left();
                case RelayedStream::Stop::end:
                    return upstream_closed(head, body, framing);
                case RelayedStream::Stop::bad_framing:
                    return broke(head, body, "bad chunked framing from the backend");
                case RelayedStream::Stop::idle:
                    return broke(head, body,
                                 "no bytes from the backend for " +
                                     config_values::format_seconds(job_.idle_timeout) +
                                     " (server.upstream_idle_timeout)");
                case RelayedStream::Stop::error:
                case RelayedStream::Stop::none:
                    return broke(head, body, stream.why.empty() ? "relay error" : stream.why);
            }
        }
    }

    void sent_body(uint64_t bytes) {
        static_cast<http::ServerResponse&>(response_).add_body_bytes(bytes);
    }

    Outcome client_left() {
        cut_by_ = "client";
        upstream_.shutdown_now();
        spdlog::info("model {}: {}: client went away; upstream released", job_.model, what_);
        response_.setKeepAlive(false);
        return Outcome::done;
    }

    // The body broke after the head went out.
    // The child closed its connection: that ends a close-delimited body (unless the engine
    // caused it, an abort); any other body was cut short.
    Outcome upstream_closed(const ResponseHead& head, Body& body, Framing framing) {
        if (framing == Framing::until_close && !job_.ticket.aborted()) {
            Batch out;
            body.end(out);
            if (!out.send(connection_)) return client_left();
            return Outcome::done;
        }
        return broke(head, body,
                     "the backend closed the connection before the response was complete");
    }

    Outcome broke(const ResponseHead& head, Body& body, const std::string& why) {
        cut_by_ = job_.ticket.aborted() ? "engine" : "backend";
        upstream_.shutdown_now();
        const std::string message =
            job_.ticket.aborted()
                ? "model '" + job_.model + "' was stopped before the response was complete"
                : "the backend of model '" + job_.model + "' ended the response early: " + why;
        spdlog::warn("model {}: {}: {}", job_.model, what_, message);
        if (!head_sent_) return fail(errors::upstream_failed, message);
        if ((head.event_stream && head.content_length < 0) || job_.sse_head_sent) {
            // Clients of a stream never hang: they get a last event saying what happened.
            Batch out;
            if (body.end_with_event(sse_error_event(errors::upstream_failed, message), out)) {
                if (!out.send(connection_)) response_.setKeepAlive(false);
                return Outcome::done;
            }
        }
        // A body cut short cannot be mended; the client must see that it is cut. With chunked or
        // Content-Length framing, an early end of stream says so. A close-delimited body
        // (HTTP/1.0) would look complete: reset it instead.
        response_.setKeepAlive(false);
        try {
            client_.setLinger(true, 0);
        } catch (const Poco::Exception&) {
        }
        const bool framed =
            relay_ == Relay::verbatim || relay_ == Relay::chunks || relay_ == Relay::rechunk;
        if (framed) ::shutdown(client_fd_, SHUT_RDWR);
        return Outcome::done;
    }

    Poco::Net::HTTPServerRequest& request_;
    Poco::Net::HTTPServerResponse& response_;
    const ForwardJob& job_;
    UpstreamConnection& upstream_;
    const bool reused_;
    std::function<void()> release_;
    std::string cut_by_;
    Poco::Net::StreamSocket& client_;
    http::ClientConnection& connection_;
    const int client_fd_;
    const std::string what_;
    bool first_byte_ = true;
    int last_errno_ = 0;
    bool head_sent_ = false;
    Relay relay_ = Relay::verbatim;
    std::string why_;
    std::string error_;
};

}  // namespace

std::string upstream_request_head(const Poco::Net::HTTPServerRequest& request,
                                  const std::string& body, const Target& target, bool keep_alive,
                                  const std::string& client_host) {
    std::vector<std::pair<std::string_view, std::string_view>> fields;
    fields.reserve(request.size());
    for (const auto& [name, value] : request) fields.emplace_back(name, value);
    OutgoingRequest out{
        request.getMethod(),
        request.getURI(),
        request.getVersion() == Poco::Net::HTTPMessage::HTTP_1_0 ? 0 : 1,
        request.secure(),
        body.size(),
        !body.empty() || request.hasContentLength() || request.getChunkedTransferEncoding()};
    return upstream_request_head(out, fields, target, keep_alive, client_host);
}

ForwardResult forward(Poco::Net::HTTPServerRequest& request, const std::string& body,
                      Poco::Net::HTTPServerResponse& response, const ForwardJob& job) {
    UpstreamPool& pool = job.upstream;
    const UpstreamSettings& settings = pool.settings();
    const bool pooling = settings.keepalive > 0;
    const std::string head = upstream_request_head(
        request, body, job.target, pooling,
        static_cast<http::ServerRequest&>(request).connection().client_host_text());
    for (int attempt = 1;; ++attempt) {
        std::unique_ptr<UpstreamConnection> upstream;
        bool reused = false;
        if (pooling && attempt == 1) {
            upstream = pool.take(job.model, job.generation, job.target.host, job.target.port);
            reused = upstream != nullptr;
        }
        if (!upstream) {
            try {
                upstream = UpstreamConnection::open(job.target.host, job.target.port,
                                                    settings.connect_timeout, job.idle_timeout,
                                                    kClientCheckEvery);
            } catch (const ConnectError& e) {
                if (e.kind == ConnectError::Kind::timed_out) {
                    std::string message = "cannot reach the backend of model '" + job.model +
                                          "': " + e.what() + " after " +
                                          std::to_string(settings.connect_timeout.count()) +
                                          " ms (server.upstream_connect_timeout)";
                    spdlog::warn("model {}: {} {}: {}", job.model, request.getMethod(),
                                 request.getURI(), message);
                    if (job.sse_head_sent) {
                        end_event_stream(request, response,
                                         sse_error_event(errors::upstream_timeout, message));
                        return {false, message, "backend"};
                    }
                    send_error(response, errors::upstream_timeout, message);
                    return {};
                }
                return {true, "cannot reach the backend of model '" + job.model + "': " + e.what(),
                        ""};
            }
            upstream->generation = job.generation;
        }
        Outcome outcome;
        std::string cut_by, error;
        // Back to the pool from inside the exchange (Outcome::released): no abort may reach the
        // connection once another request can take it.
        auto release = [&] {
            job.ticket.set_abort(nullptr);
            ++upstream->requests;
            if (job.ticket.aborted()) {
                upstream.reset();  // the stop may have shut it: never lend it
            } else {
                pool.give_back(job.model, std::move(upstream));
            }
        };
        {
            AbortGuard guard{job.ticket};  // cleared before `upstream` can go back or away
            job.ticket.set_abort([c = upstream.get()] { c->shutdown_now(); });
            Exchange exchange(request, response, job, *upstream, reused,
                              pooling ? std::function<void()>(release) : nullptr);
            outcome = exchange.run(head, body);
            cut_by = exchange.cut_by();
            error = exchange.error();
        }
        if (outcome == Outcome::retry) {
            spdlog::debug("model {}: a pooled connection was closed; sending on a new one",
                          job.model);
            continue;
        }
        if (outcome == Outcome::gone) return {true, error, ""};
        if (outcome == Outcome::released) return {false, error, cut_by};
        ++upstream->requests;
        if (outcome == Outcome::reuse && !job.ticket.aborted()) {
            pool.give_back(job.model, std::move(upstream));
        }
        return {false, error, cut_by};
    }
}

}  // namespace gradatum::proxy
