// forward() in process, on real loopback sockets: a client connection served by the engine's own
// ServerRequest/ServerResponse, and a scripted child of the test's own. Covers the two things the
// forwarder decides before the first byte of an answer (is the child gone, and may the request
// go to the next one?) and a stream whose SSE head the engine sent itself (sse_head_sent).
#include <Poco/AutoPtr.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "http/client_connection.hpp"
#include "http/request_head.hpp"
#include "http/server_request.hpp"
#include "http/server_response.hpp"
#include "proxy/child_gone.hpp"
#include "proxy/chunked_decoder.hpp"
#include "proxy/forwarder.hpp"
#include "proxy/sse_answer.hpp"
#include "proxy/upstream_pool.hpp"
#include "supervisor/in_flight.hpp"

using namespace gradatum;
using namespace gradatum::proxy;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string kBody = R"({"model":"m","stream":true,"messages":[]})";
const std::string kComment = ": loading m 1 s\n\n";

// A child that accepts one connection, reads one request (head and Content-Length body) and
// then plays its script on the connection. It can close its listener (a process that died).
class ScriptedChild {
  public:
    using Script = std::function<void(Poco::Net::StreamSocket&, ScriptedChild&)>;
    explicit ScriptedChild(Script script)
        : listener_(Poco::Net::SocketAddress("127.0.0.1", 0), 16),
          port_(listener_.address().port()),
          thread_([this, script] {
              Poco::Net::StreamSocket connection = listener_.acceptConnection();
              request_ = read_request(connection);
              script(connection, *this);
          }) {}
    ~ScriptedChild() {
        thread_.join();
        close_listener();
    }
    uint16_t port() const { return port_; }
    void close_listener() {
        if (!closed_) listener_.close();
        closed_ = true;
    }
    const std::string& request() const { return request_; }

    static void send(Poco::Net::StreamSocket& socket, const std::string& text) {
        socket.sendBytes(text.data(), static_cast<int>(text.size()));
    }

  private:
    static std::string read_request(Poco::Net::StreamSocket& socket) {
        std::string text;
        char buffer[4096];
        size_t need = std::string::npos;
        while (need == std::string::npos || text.size() < need) {
            int n = socket.receiveBytes(buffer, sizeof buffer);
            if (n <= 0) break;
            text.append(buffer, static_cast<size_t>(n));
            auto end = text.find("\r\n\r\n");
            if (need == std::string::npos && end != std::string::npos) {
                auto at = text.find("Content-Length: ");
                size_t length = at == std::string::npos ? 0 : std::stoul(text.substr(at + 16));
                need = end + 4 + length;
            }
        }
        return text;
    }

    Poco::Net::ServerSocket listener_;
    uint16_t port_;
    bool closed_ = false;
    std::string request_;
    std::thread thread_;
};

// The client's side: the test reads what the engine wrote once the exchange is over.
struct Client {
    Poco::Net::ServerSocket front{Poco::Net::SocketAddress("127.0.0.1", 0), 4};
    Poco::Net::StreamSocket socket;
    std::unique_ptr<http::ClientConnection> connection;

    Client() {
        socket.connect(front.address());
        connection =
            std::make_unique<http::ClientConnection>(front.acceptConnection(), front.address());
    }
    // Everything the engine sent, up to the close (the engine's side is closed first).
    std::string received() {
        connection.reset();
        socket.setReceiveTimeout(Poco::Timespan(5, 0));
        std::string text;
        char buffer[4096];
        int n;
        while ((n = socket.receiveBytes(buffer, sizeof buffer)) > 0) {
            text.append(buffer, static_cast<size_t>(n));
        }
        return text;
    }
};

struct Outcome {
    ForwardResult result;
    std::string head;         // the client's response head, through its blank line
    std::string body;         // decoded when chunked
    bool body_ended = false;  // a chunked body ended by its last chunk, nothing after it
};

struct Setup {
    bool sse = true;      // the engine sends its own SSE head (and a comment) first
    bool http10 = false;  // the client speaks HTTP/1.0 (its body then ends at the close)
    std::chrono::milliseconds header_timeout{5000};
};

// One request through forward() to `child`.
Outcome run(ScriptedChild& child, const Setup& setup = {}) {
    Client client;
    const std::string version = setup.http10 ? "HTTP/1.0" : "HTTP/1.1";
    auto scan = http::scan_request_head(
        "POST /v1/chat/completions " + version +
            "\r\nHost: engine\r\nContent-Length: " + std::to_string(kBody.size()) + "\r\n\r\n",
        http::HeadLimits{});
    REQUIRE(scan.status == http::HeadStatus::complete);
    Poco::AutoPtr<Poco::Net::HTTPServerParams> params(new Poco::Net::HTTPServerParams);
    http::ServerResponse response(*client.connection, false);
    http::ServerRequest request(scan.head, *client.connection, response, *params);
    response.setVersion(request.getVersion());
    if (setup.sse) {
        // What the engine does while the model starts.
        response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
        response.setContentType("text/event-stream");
        response.setChunkedTransferEncoding(!setup.http10);
        response.send() << kComment << std::flush;
    }
    UpstreamSettings settings;
    settings.keepalive = 0;
    settings.header_timeout = setup.header_timeout;
    settings.connect_timeout = 1000ms;
    UpstreamPool pool(settings);
    InFlight in_flight;
    auto ticket = in_flight.add();
    Target target{"127.0.0.1", child.port(), {}};
    const std::string model = "m";
    ForwardJob job{model, target, *ticket, std::chrono::milliseconds(5000), 1, pool};
    job.sse_head_sent = setup.sse;
    Outcome outcome;
    outcome.result = forward(request, kBody, response, job);
    response.finish();
    ticket.reset();
    const std::string raw = client.received();
    const size_t head_end = raw.find("\r\n\r\n");
    if (head_end == std::string::npos) {
        outcome.head = raw;
        return outcome;
    }
    outcome.head = raw.substr(0, head_end + 4);
    const std::string rest = raw.substr(head_end + 4);
    if (outcome.head.find("Transfer-Encoding: chunked") == std::string::npos) {
        outcome.body = rest;
        return outcome;
    }
    ChunkedDecoder decoder;
    size_t used = 0;
    REQUIRE(decoder.feed(rest.data(), rest.size(), outcome.body, &used));
    outcome.body_ended = decoder.done() && used == rest.size();
    return outcome;
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
    return n;
}

// The JSON of the last `data:` event of `body`.
json last_event(const std::string& body) {
    auto at = body.rfind("data: ");
    REQUIRE(at != std::string::npos);
    auto end = body.find("\n\n", at);
    REQUIRE(end == body.size() - 2);
    return json::parse(body.substr(at + 6, end - at - 6));
}

const std::string kEventStreamHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

std::string chunk(const std::string& payload) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
    return size + payload + "\r\n";
}

}  // namespace

// ---------------------------------------------------------------- the child gone before answering

TEST_CASE("forward: a child that dies with the request read is gone: nothing is answered",
          "[proxy][forward][retry]") {
    for (bool sse : {false, true}) {
        CAPTURE(sse);
        ScriptedChild child([](Poco::Net::StreamSocket& connection, ScriptedChild& self) {
            self.close_listener();  // the process dies: its listener closes with it
            connection.close();
        });
        Setup setup;
        setup.sse = sse;
        Outcome out = run(child, setup);
        CHECK(out.result.child_gone_before_answer);
        CHECK(out.result.error.find("went away before answering") != std::string::npos);
        CHECK(out.result.cut_by.empty());
        CHECK(child.request().find(kBody) != std::string::npos);  // it had been sent
        if (sse) {
            // Only what the engine wrote itself: the caller may forward the request again.
            CHECK(out.body == kComment);
            CHECK(out.body_ended);
        } else {
            CHECK(out.head.empty());
        }
    }
}

TEST_CASE("forward: a live child that closes without answering is not gone",
          "[proxy][forward][retry]") {
    ScriptedChild child([](Poco::Net::StreamSocket& connection, ScriptedChild&) {
        connection.close();  // the listener stays: the child is still there
    });
    Setup setup;
    setup.sse = false;
    Outcome out = run(child, setup);
    CHECK_FALSE(out.result.child_gone_before_answer);
    CHECK(out.head.rfind("HTTP/1.1 502", 0) == 0);
}

TEST_CASE("forward: no first byte within upstream_header_timeout is not a gone child",
          "[proxy][forward][retry]") {
    ScriptedChild child([](Poco::Net::StreamSocket&, ScriptedChild&) {
        std::this_thread::sleep_for(600ms);  // silent past the header timeout
    });
    Setup setup;
    setup.sse = false;
    setup.header_timeout = 200ms;
    Outcome out = run(child, setup);
    CHECK_FALSE(out.result.child_gone_before_answer);
    CHECK(out.head.rfind("HTTP/1.1 504", 0) == 0);
}

TEST_CASE("child_stopped_listening: refused or reset is gone, a quiet listener is not",
          "[proxy][forward][retry]") {
    Poco::Net::ServerSocket live(Poco::Net::SocketAddress("127.0.0.1", 0), 4);
    CHECK_FALSE(child_stopped_listening("127.0.0.1", live.address().port()));
    uint16_t port;
    {
        Poco::Net::ServerSocket gone(Poco::Net::SocketAddress("127.0.0.1", 0), 4);
        port = gone.address().port();
    }
    CHECK(child_stopped_listening("127.0.0.1", port));
    // Accepted into the queue of a listener that closes meanwhile: reset.
    Poco::Net::ServerSocket closing(Poco::Net::SocketAddress("127.0.0.1", 0), 4);
    std::thread closer([&] {
        std::this_thread::sleep_for(20ms);
        closing.close();
    });
    CHECK(child_stopped_listening("127.0.0.1", closing.address().port(), 500ms));
    closer.join();
}

TEST_CASE("process_exiting: a live process is not, a zombie and a reaped one are",
          "[proxy][forward][retry]") {
    CHECK_FALSE(process_exiting(0));  // no process: only the port can tell
    CHECK_FALSE(process_exiting(getpid()));
    const pid_t child = fork();
    if (child == 0) _exit(0);
    REQUIRE(child > 0);
    // Not reaped yet: a zombie once it has exited.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!process_exiting(child) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    CHECK(process_exiting(child));
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK(process_exiting(child));  // reaped: no /proc entry
}

// ---------------------------------------------------------------- behind the engine's SSE head

TEST_CASE("forward, sse_head_sent: a 200 event stream becomes the rest of the body",
          "[proxy][forward][sse]") {
    SECTION("chunked") {
        ScriptedChild child([](Poco::Net::StreamSocket& c, ScriptedChild&) {
            ScriptedChild::send(c, kEventStreamHead + chunk("data: a\n\n"));
            std::this_thread::sleep_for(20ms);
            ScriptedChild::send(c, chunk("data: [DONE]\n\n") + "0\r\n\r\n");
        });
        Outcome out = run(child);
        CHECK(out.body == kComment + "data: a\n\ndata: [DONE]\n\n");
        CHECK(out.body_ended);
        CHECK(out.result.cut_by.empty());
        CHECK(out.result.error.empty());
    }
    SECTION("with a Content-Length") {
        ScriptedChild child([](Poco::Net::StreamSocket& c, ScriptedChild&) {
            const std::string events = "data: a\n\ndata: [DONE]\n\n";
            ScriptedChild::send(c,
                                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                "Content-Length: " +
                                    std::to_string(events.size()) + "\r\n\r\n" + events);
        });
        Outcome out = run(child);
        CHECK(out.body == kComment + "data: a\n\ndata: [DONE]\n\n");
        CHECK(out.body_ended);
    }
    SECTION("ended by the close") {
        ScriptedChild child([](Poco::Net::StreamSocket& c, ScriptedChild&) {
            ScriptedChild::send(c,
                                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                "Connection: close\r\n\r\ndata: a\n\n");
        });
        Outcome out = run(child);
        CHECK(out.body == kComment + "data: a\n\n");
        CHECK(out.body_ended);
    }
    SECTION("to an HTTP/1.0 client: the payload, ended by the close") {
        ScriptedChild child([](Poco::Net::StreamSocket& c, ScriptedChild&) {
            ScriptedChild::send(c, kEventStreamHead + chunk("data: a\n\n") + "0\r\n\r\n");
        });
        Setup setup;
        setup.http10 = true;
        Outcome out = run(child, setup);
        CHECK(out.head.find("Transfer-Encoding") == std::string::npos);
        CHECK(out.body == kComment + "data: a\n\n");
    }
}

TEST_CASE("forward, sse_head_sent: the engine's head is the only head", "[proxy][forward][sse]") {
    ScriptedChild child([](Poco::Net::StreamSocket& c, ScriptedChild&) {
        ScriptedChild::send(c, kEventStreamHead + chunk("data: a\n\n") + "0\r\n\r\n");
    });
    Outcome out = run(child);
    CHECK(count(out.head, "HTTP/1.1 200") == 1);
    CHECK(out.body.find("HTTP/1.1") == std::string::npos);
}

TEST_CASE("forward, sse_head_sent: a child's JSON error becomes the last event",
          "[proxy][forward][sse]") {
    const std::string error =
        R"({"error":{"code":503,"message":"Loading model","type":"unavailable_error"}})";
    ScriptedChild child([&](Poco::Net::StreamSocket& c, ScriptedChild&) {
        ScriptedChild::send(c,
                            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                            "application/json\r\nContent-Length: " +
                                std::to_string(error.size()) + "\r\n\r\n" + error);
    });
    Outcome out = run(child);
    REQUIRE(out.body.rfind(kComment, 0) == 0);
    CHECK(out.body.substr(kComment.size()) == "data: " + error + "\n\n");
    CHECK(last_event(out.body) == json::parse(error));
    CHECK(out.body_ended);
    CHECK(out.result.cut_by == "backend");
    CHECK(out.result.error.find("503") != std::string::npos);
    CHECK_FALSE(out.result.child_gone_before_answer);
}

TEST_CASE("forward, sse_head_sent: any other answer becomes an OpenAI error event",
          "[proxy][forward][sse]") {
    ScriptedChild child([](Poco::Net::StreamSocket& c, ScriptedChild&) {
        ScriptedChild::send(c,
                            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n" +
                                chunk("bo") + chunk("om") + "0\r\n\r\n");
    });
    Outcome out = run(child);
    auto event = last_event(out.body);
    CHECK(event["error"]["code"] == "upstream_failed");
    CHECK(event["error"]["message"] ==
          "the backend of model 'm' answered 500 Internal Server Error: boom");
    CHECK(out.body_ended);
    CHECK(out.result.cut_by == "backend");
}

TEST_CASE("forward, sse_head_sent: a stream cut by the child ends with an error event",
          "[proxy][forward][sse]") {
    ScriptedChild child([](Poco::Net::StreamSocket& c, ScriptedChild&) {
        ScriptedChild::send(c, kEventStreamHead + chunk("data: a\n\n"));
    });
    Outcome out = run(child);
    REQUIRE(out.body.rfind(kComment + "data: a\n\n", 0) == 0);
    CHECK(last_event(out.body)["error"]["code"] == "upstream_failed");
    CHECK(out.body_ended);
    CHECK(out.result.cut_by == "backend");
    CHECK_FALSE(out.result.child_gone_before_answer);
}

TEST_CASE("forward, sse_head_sent: the engine's own errors are events too",
          "[proxy][forward][sse]") {
    ScriptedChild child(
        [](Poco::Net::StreamSocket&, ScriptedChild&) { std::this_thread::sleep_for(600ms); });
    Setup setup;
    setup.header_timeout = 200ms;
    Outcome out = run(child, setup);
    CHECK(count(out.head, "HTTP/1.1") == 1);
    auto event = last_event(out.body);
    CHECK(event["error"]["code"] == "upstream_timeout");
    CHECK(event["error"]["message"].get<std::string>().find("server.upstream_header_timeout") !=
          std::string::npos);
    CHECK(out.body_ended);
}

// ---------------------------------------------------------------- the pieces

TEST_CASE("sse_event_for_answer: the child's JSON error, else an OpenAI error", "[proxy][sse]") {
    CHECK(sse_event_for_answer("m", 400, "Bad Request", "application/json",
                               "{\n  \"error\": {\"message\": \"too long\"}\n}") ==
          "data: {\"error\":{\"message\":\"too long\"}}\n\n");
    auto wrapped = [](const std::string& event) {
        REQUIRE(event.rfind("data: ", 0) == 0);
        REQUIRE(event.size() > 8);
        CHECK(event.substr(event.size() - 2) == "\n\n");
        CHECK(event.find('\n') == event.size() - 2);  // one line
        return json::parse(event.substr(6, event.size() - 8))["error"];
    };
    auto text = wrapped(sse_event_for_answer("m", 502, "Bad Gateway", "text/html", "<h1>\nx"));
    CHECK(text["code"] == "upstream_failed");
    CHECK(text["message"] == "the backend of model 'm' answered 502 Bad Gateway: <h1>\nx");
    auto plain = wrapped(sse_event_for_answer("m", 200, "OK", "application/json", "{\"id\":1}"));
    CHECK(plain["message"] ==
          "the backend of model 'm' answered 200 OK with application/json instead of an event "
          "stream");
    auto long_body = wrapped(sse_event_for_answer("m", 500, "Error", "", std::string(1000, 'x')));
    CHECK(long_body["message"].get<std::string>().size() < 300);
}

TEST_CASE("final_event_bytes: one chunk and the last chunk, or the event alone", "[proxy][sse]") {
    CHECK(final_event_bytes("data: {}\n\n", true) == "a\r\ndata: {}\n\n\r\n0\r\n\r\n");
    CHECK(final_event_bytes("data: {}\n\n", false) == "data: {}\n\n");
}
