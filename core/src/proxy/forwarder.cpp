// The hot path: request out, response back, byte for byte and event by event.
//
// Bytes are pumped with raw reads (each recv is forwarded and flushed at once), the upstream
// framing is decoded here so that a child dying mid-body is told apart from a normal end, and the
// client is checked while the child is silent so a client that left releases the child.
#include "forwarder.hpp"

#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/String.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <functional>
#include <memory>

#include "chunked_decoder.hpp"
#include "header_rules.hpp"
#include "http/server_request.hpp"
#include "openai_error.hpp"
#include "upstream_session.hpp"

namespace gradatum::proxy {

namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::StreamSocket;

const Poco::Timespan kConnectTimeout(5, 0);
// While the child is silent, how often to look whether the client left: a client that gives up
// frees its llama-server slot (which itself notices a closed connection within 1 s).
const Poco::Timespan kClientCheckEvery(0, 100 * 1000);
constexpr std::streamsize kReadSize = 16 * 1024;

Poco::Timespan to_timespan(std::chrono::milliseconds ms) {
    return Poco::Timespan(static_cast<long>(ms.count() / 1000),
                          static_cast<long>(ms.count() % 1000 * 1000));
}

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

enum class Wait { data, client_gone, idle_timeout, error };
enum class PumpEnd { complete, client_gone, upstream_broke };

// Moves the upstream body to the client.
class Pump {
  public:
    Pump(UpstreamSession& upstream, StreamSocket& client, std::chrono::milliseconds idle_timeout,
         std::function<bool()> aborted)
        : upstream_(upstream),
          client_(client),
          idle_timeout_(idle_timeout),
          aborted_(std::move(aborted)) {}

    // Waits until the upstream has bytes (or has ended); checks the client and the idle limit
    // meanwhile. `why` says what went wrong for idle_timeout and error.
    Wait wait_for_upstream(std::string& why) {
        auto silent = std::chrono::milliseconds(0);
        while (upstream_.buffered_bytes() == 0) {
            try {
                if (upstream_.socket().poll(
                        kClientCheckEvery,
                        Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR)) {
                    return Wait::data;
                }
            } catch (const Poco::Exception& e) {
                why = e.displayText();
                return Wait::error;
            }
            if (client_gone(client_)) return Wait::client_gone;
            silent += std::chrono::milliseconds(kClientCheckEvery.totalMilliseconds());
            if (silent >= idle_timeout_) {
                why = "no bytes from the backend for " + std::to_string(silent.count() / 1000) +
                      " s (server.upstream_idle_timeout)";
                return Wait::idle_timeout;
            }
        }
        return Wait::data;
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
            Wait wait = wait_for_upstream(why);
            if (wait == Wait::client_gone) return PumpEnd::client_gone;
            if (wait != Wait::data) return PumpEnd::upstream_broke;
            int n = 0;
            try {
                n = upstream_.read_some(buffer, kReadSize);
            } catch (const Poco::Exception& e) {
                why = e.displayText();
                return PumpEnd::upstream_broke;
            }
            if (n <= 0) {
                // A close ends such a body, unless the engine caused it (an abort).
                if (framing == Framing::until_close && !aborted_()) return PumpEnd::complete;
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
            if (!out.good()) return PumpEnd::client_gone;
            tail_.append(data, size);
            if (tail_.size() > 2) tail_.erase(0, tail_.size() - 2);
        }
    }

    // The last bytes sent, to close a half-written SSE event before an error event.
    const std::string& tail() const { return tail_; }

  private:
    UpstreamSession& upstream_;
    StreamSocket& client_;
    std::chrono::milliseconds idle_timeout_;
    std::function<bool()> aborted_;
    std::string tail_;
};

// Clears the request's abort function before the session it points to goes away.
struct AbortGuard {
    InFlight::Ticket& ticket;
    ~AbortGuard() { ticket.set_abort(nullptr); }
};

// Copies the child's status, headers and framing to the client's response.
void start_response(const Poco::Net::HTTPServerRequest& request, const HTTPResponse& upstream,
                    Framing framing, Poco::Net::HTTPServerResponse& response) {
    response.setStatusAndReason(upstream.getStatus(), upstream.getReason());
    // Poco has already set the engine's own Date; the child's takes its place (no duplicate).
    if (upstream.has("Date")) response.erase("Date");
    copy_end_to_end_headers(upstream, response);
    if (framing == Framing::content_length || framing == Framing::none) {
        if (upstream.hasContentLength()) response.setContentLength64(upstream.getContentLength64());
    } else if (request.getVersion() == Poco::Net::HTTPMessage::HTTP_1_0) {
        response.setKeepAlive(false);  // HTTP/1.0 has no chunked encoding: the close ends it
    } else {
        response.setChunkedTransferEncoding(true);
    }
}

}  // namespace

ForwardResult forward(Poco::Net::HTTPServerRequest& request, const std::string& body,
                      Poco::Net::HTTPServerResponse& response, const ForwardJob& job) {
    StreamSocket& client = static_cast<http::ServerRequest&>(request).socket();
    const std::string what = request.getMethod() + " " + request.getURI();
    auto fail = [&](const ErrorKind& kind, const std::string& message) {
        spdlog::warn("model {}: {}: {}", job.model, what, message);
        send_error(response, kind, message);
    };

    std::unique_ptr<UpstreamSession> upstream;
    try {
        upstream = std::make_unique<UpstreamSession>(
            job.target.host, job.target.port, kConnectTimeout, to_timespan(job.idle_timeout));
    } catch (const Poco::Exception& e) {
        return {true, "cannot reach the backend of model '" + job.model + "': " + e.displayText()};
    }
    AbortGuard guard{job.ticket};  // declared after `upstream`: destroyed before it
    job.ticket.set_abort([session = upstream.get()] { session->shutdown_now(); });

    Poco::Net::HTTPRequest outgoing(request.getMethod(), request.getURI(),
                                    Poco::Net::HTTPMessage::HTTP_1_1);
    copy_end_to_end_headers(request, outgoing);
    outgoing.setHost(job.target.host, job.target.port);
    for (const auto& [name, value] : job.target.headers) outgoing.set(name, value);
    if (!body.empty() || request.hasContentLength() || request.getChunkedTransferEncoding()) {
        outgoing.setContentLength64(static_cast<Poco::Int64>(body.size()));
    }
    outgoing.setKeepAlive(false);

    HTTPResponse upstream_response;
    Pump pump(*upstream, client, job.idle_timeout, [&job] { return job.ticket.aborted(); });
    std::string why;
    try {
        std::ostream& out = upstream->sendRequest(outgoing);
        out.write(body.data(), static_cast<std::streamsize>(body.size()));
        out.flush();
        switch (pump.wait_for_upstream(why)) {
            case Wait::client_gone:
                spdlog::debug("model {}: {}: client went away before the answer", job.model, what);
                return {false, "", "client"};
            case Wait::idle_timeout:
                fail(errors::upstream_timeout, why);
                return {};
            case Wait::error:
                throw Poco::Net::NetException(why);
            case Wait::data:
                break;
        }
        upstream->receiveResponse(upstream_response);
    } catch (const Poco::Exception& e) {
        fail(errors::upstream_failed,
             job.ticket.aborted()
                 ? "model '" + job.model + "' was stopped before it answered"
                 : "the backend of model '" + job.model + "' failed: " + e.displayText());
        return {};
    }

    Framing framing = framing_of(request.getMethod(), upstream_response);
    start_response(request, upstream_response, framing, response);
    std::ostream& out = response.send();
    Poco::Int64 length =
        upstream_response.hasContentLength() ? upstream_response.getContentLength64() : 0;
    PumpEnd end = pump.run(framing, length, out, why);
    if (end == PumpEnd::complete) return {};
    upstream->shutdown_now();
    if (end == PumpEnd::client_gone) {
        spdlog::info("model {}: {}: client went away; upstream released", job.model, what);
        return {false, "", "client"};
    }
    std::string message =
        job.ticket.aborted()
            ? "model '" + job.model + "' was stopped before the response was complete"
            : "the backend of model '" + job.model + "' ended the response early: " + why;
    spdlog::warn("model {}: {}: {}", job.model, what, message);
    const std::string cut_by = job.ticket.aborted() ? "engine" : "backend";
    bool event_stream =
        Poco::icompare(upstream_response.getContentType().substr(0, 17), "text/event-stream") == 0;
    if (event_stream && framing != Framing::content_length) {
        // Clients of a stream never hang: they get a last event saying what happened.
        std::string event = sse_error_event(errors::upstream_failed, message);
        if (pump.tail().size() == 2 && pump.tail() != "\n\n") event = "\n\n" + event;
        out << event;
        out.flush();
        return {false, "", cut_by};
    }
    // A body cut short cannot be mended; the client must see that it is cut. With chunked or
    // Content-Length framing, an early end of stream says so (and keeps Poco from adding a final
    // chunk). A close-delimited body (HTTP/1.0) would look complete: reset it instead.
    response.setKeepAlive(false);
    try {
        client.setLinger(true, 0);
    } catch (const Poco::Exception&) {
    }
    if (response.getChunkedTransferEncoding() || response.hasContentLength()) {
        ::shutdown(client.impl()->sockfd(), SHUT_RDWR);
    }
    return {false, "", cut_by};
}

}  // namespace gradatum::proxy
