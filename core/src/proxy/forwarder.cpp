// The hot path: request out, response back, byte for byte and event by event.
//
// Bytes are pumped with raw reads (each recv is forwarded and flushed at once), the upstream
// framing is decoded here so that a child dying mid-body is told apart from a normal end, and the
// client is checked while the child is silent so a client that left releases the child.
#include "forwarder.hpp"

#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/NetException.h>
#include <Poco/String.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "chunked_decoder.hpp"
#include "header_rules.hpp"
#include "openai_error.hpp"
#include "upstream_session.hpp"

namespace gradatum::proxy {

namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::StreamSocket;

const Poco::Timespan kConnectTimeout(5, 0);
const Poco::Timespan kClientCheckEvery(0, 500 * 1000);
constexpr std::streamsize kReadSize = 16 * 1024;

// A client that closed its connection shows as readable with nothing to read.
bool client_gone(StreamSocket& client) {
    try {
        if (!client.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ)) return false;
        char probe;
        ssize_t n = ::recv(client.impl()->sockfd(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    } catch (const Poco::Exception&) {
        return true;
    }
}

// How the upstream body ends.
enum class Framing { none, content_length, chunked, until_close };

Framing framing_of(const std::string& method, const HTTPResponse& upstream) {
    int status = upstream.getStatus();
    if (method == "HEAD" || status == 204 || status == 304 || (status >= 100 && status < 200)) {
        return Framing::none;
    }
    if (upstream.getChunkedTransferEncoding()) return Framing::chunked;
    if (upstream.hasContentLength()) return Framing::content_length;
    return Framing::until_close;
}

enum class PumpEnd { complete, client_gone, upstream_broke };

class Pump {
  public:
    Pump(UpstreamSession& upstream, StreamSocket& client, const ForwardJob& job)
        : upstream_(upstream), client_(client), job_(job) {}

    // Waits until the upstream has bytes; checks the client and the idle limit meanwhile.
    // Returns false if the client left (client_left()) or the upstream stayed silent too long.
    bool wait_for_upstream(std::string& why) {
        auto silent = std::chrono::milliseconds(0);
        while (upstream_.buffered_bytes() == 0 && !upstream_readable(why)) {
            if (!why.empty()) return false;
            if (client_gone(client_)) {
                why = "client went away";
                client_left_ = true;
                return false;
            }
            silent += std::chrono::milliseconds(kClientCheckEvery.totalMilliseconds());
            if (silent >= job_.idle_timeout) {
                why = "no bytes from the backend for " + std::to_string(silent.count() / 1000) +
                      " s (server.upstream_idle_timeout)";
                return false;
            }
        }
        return true;
    }

    PumpEnd run(Framing framing, Poco::Int64 content_length, std::ostream& out, std::string& why) {
        if (framing == Framing::none) return PumpEnd::complete;
        ChunkedDecoder decoder;
        Poco::Int64 received = 0;
        char buffer[kReadSize];
        std::string payload;
        while (true) {
            if (framing == Framing::chunked && decoder.done()) return PumpEnd::complete;
            if (framing == Framing::content_length && received >= content_length) {
                return PumpEnd::complete;
            }
            if (!wait_for_upstream(why)) {
                return client_left_ ? PumpEnd::client_gone : PumpEnd::upstream_broke;
            }
            int n = 0;
            try {
                n = upstream_.read_some(buffer, kReadSize);
            } catch (const Poco::Exception& e) {
                why = e.displayText();
                return PumpEnd::upstream_broke;
            }
            if (n <= 0) {
                if (framing == Framing::until_close) return PumpEnd::complete;
                why = "the backend closed the connection before the response was complete";
                return PumpEnd::upstream_broke;
            }
            const char* data = buffer;
            size_t size = static_cast<size_t>(n);
            if (framing == Framing::chunked) {
                payload.clear();
                if (!decoder.feed(buffer, size, payload)) {
                    why = "bad chunked framing from the backend";
                    return PumpEnd::upstream_broke;
                }
                data = payload.data();
                size = payload.size();
            } else if (framing == Framing::content_length) {
                size = static_cast<size_t>(std::min<Poco::Int64>(size, content_length - received));
                received += static_cast<Poco::Int64>(size);
            }
            if (size == 0) continue;
            out.write(data, static_cast<std::streamsize>(size));
            out.flush();  // one chunk per read: events go out as they arrive
            if (!out.good()) {
                why = "client went away";
                return PumpEnd::client_gone;
            }
            tail_.append(data, size);
            if (tail_.size() > 2) tail_.erase(0, tail_.size() - 2);
        }
    }

    bool client_left() const { return client_left_; }

    // The last bytes sent, to close a half-written SSE event before an error event.
    const std::string& tail() const { return tail_; }

  private:
    // Waits a little for upstream bytes; a socket error ends the wait with `why` set.
    bool upstream_readable(std::string& why) {
        try {
            return upstream_.socket().poll(kClientCheckEvery, Poco::Net::Socket::SELECT_READ |
                                                                  Poco::Net::Socket::SELECT_ERROR);
        } catch (const Poco::Exception& e) {
            why = e.displayText();
            return false;
        }
    }

    UpstreamSession& upstream_;
    StreamSocket& client_;
    const ForwardJob& job_;
    bool client_left_ = false;
    std::string tail_;
};

}  // namespace

void forward(Poco::Net::HTTPServerRequest& request, const std::string& body,
             Poco::Net::HTTPServerResponse& response, const ForwardJob& job) {
    StreamSocket& client = static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket();
    UpstreamSession upstream(job.target.host, job.target.port);
    // Destroyed before `upstream`: abort_all() never reaches a dead session.
    struct AbortGuard {
        InFlight::Ticket& ticket;
        ~AbortGuard() { ticket.set_abort(nullptr); }
    } guard{job.ticket};
    // Shut the socket down, but do not close it: this runs on another thread, and the pump
    // below must see an end of stream, not a dead file descriptor.
    job.ticket.set_abort([&upstream] {
        try {
            upstream.socket().shutdown();
        } catch (const Poco::Exception&) {
        }
    });

    Poco::Timespan idle(job.idle_timeout.count() / 1000, (job.idle_timeout.count() % 1000) * 1000);
    upstream.setTimeout(kConnectTimeout, idle, idle);

    Poco::Net::HTTPRequest outgoing(request.getMethod(), request.getURI(),
                                    Poco::Net::HTTPMessage::HTTP_1_1);
    copy_end_to_end_headers(request, outgoing);
    outgoing.setHost(job.target.host, job.target.port);
    for (const auto& [name, value] : job.target.headers) outgoing.set(name, value);
    bool has_body =
        !body.empty() || request.hasContentLength() || request.getChunkedTransferEncoding();
    if (has_body) outgoing.setContentLength64(static_cast<Poco::Int64>(body.size()));
    outgoing.setKeepAlive(false);

    HTTPResponse upstream_response;
    std::string why;
    try {
        std::ostream& out = upstream.sendRequest(outgoing);
        out.write(body.data(), static_cast<std::streamsize>(body.size()));
        out.flush();
        Pump waiter(upstream, client, job);
        if (!waiter.wait_for_upstream(why)) {
            if (waiter.client_left()) {
                spdlog::debug("model {}: {} before the response started", job.model, why);
                return;
            }
            throw Poco::TimeoutException(why);
        }
        upstream.receiveResponse(upstream_response);
    } catch (const Poco::Exception& e) {
        std::string message =
            job.ticket.aborted()
                ? "model '" + job.model + "' was stopped before it answered"
                : "the backend of model '" + job.model + "' failed: " + e.displayText();
        spdlog::warn("model {}: {} {}: {}", job.model, request.getMethod(), request.getURI(),
                     message);
        send_error(response, 502, "server_error", message);
        return;
    }

    response.setStatusAndReason(upstream_response.getStatus(), upstream_response.getReason());
    // Poco has already set the engine's own Date; the child's takes its place (no duplicate).
    if (upstream_response.has("Date")) response.erase("Date");
    copy_end_to_end_headers(upstream_response, response);
    Framing framing = framing_of(request.getMethod(), upstream_response);
    if (framing == Framing::content_length || framing == Framing::none) {
        if (upstream_response.hasContentLength()) {
            response.setContentLength64(upstream_response.getContentLength64());
        }
    } else {
        response.setChunkedTransferEncoding(true);
    }
    std::ostream& out = response.send();
    Pump pump(upstream, client, job);
    PumpEnd end = pump.run(
        framing, upstream_response.hasContentLength() ? upstream_response.getContentLength64() : 0,
        out, why);
    if (end == PumpEnd::complete) return;
    if (end == PumpEnd::client_gone) {
        spdlog::info("model {}: {} {}: client went away; upstream released", job.model,
                     request.getMethod(), request.getURI());
        upstream.abort();
        return;
    }
    std::string message =
        job.ticket.aborted()
            ? "model '" + job.model + "' was stopped before the response was complete"
            : "the backend of model '" + job.model + "' ended the response early: " + why;
    spdlog::warn("model {}: {} {}: {}", job.model, request.getMethod(), request.getURI(), message);
    upstream.abort();
    bool event_stream =
        Poco::icompare(upstream_response.getContentType().substr(0, 17), "text/event-stream") == 0;
    if (event_stream && framing != Framing::content_length) {
        // Clients of a stream never hang: they get a last event saying what happened.
        std::string event = sse_error_event(502, "server_error", message);
        if (pump.tail().size() == 2 && pump.tail() != "\n\n") event = "\n\n" + event;
        out << event;
        out.flush();
        return;
    }
    // A body cut short cannot be mended: close the connection so the client sees it is cut.
    try {
        client.shutdown();
    } catch (const Poco::Exception&) {
    }
}

}  // namespace gradatum::proxy
