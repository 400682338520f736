// The engine's persistent connections to its child (server.upstream_keepalive), the upstream
// timeouts, and the headers the engine adds. The fake reports the client address:port of the
// connection each request came on ("peer"), so a reused connection shows as the same peer.
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "proxy/chunked_decoder.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

// The peer the fake saw for a /fake/echo (or /fake/close-after) request made through `port`.
std::string echo_peer(uint16_t port, const std::string& path = "/fake/echo") {
    auto r = http(port, "GET", path);
    REQUIRE(r.status == 200);
    return json::parse(r.body)["peer"].get<std::string>();
}

std::string last_request_peer(uint16_t port) {
    auto r = http(port, "GET", "/fake/last-request");
    REQUIRE(r.status == 200);
    return json::parse(r.body)["peer"].get<std::string>();
}

// The child's open client connections, as the fake counts them (asked through the engine).
int child_connections(uint16_t port) {
    auto r = http(port, "GET", "/fake/connections");
    return r.status == 200 ? json::parse(r.body)["open"].get<int>() : -1;
}

const std::string kQuickRestart =
    "models.m.restart.initial_delay = 0\n"
    "models.m.restart.jitter = 0\n";

// Connections to a port whose owner does not accept any more, until the kernel's accept queue is
// full and a connect no longer completes (bounded: at most `limit` tries).
class Backlog {
  public:
    Backlog(uint16_t port, int limit) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        for (int i = 0; i < limit; ++i) {
            int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) break;
            fds_.push_back(fd);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
                continue;
            }
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, 200) == 0) {
                full_ = true;  // this SYN was dropped: the queue is full
                break;
            }
        }
    }
    ~Backlog() {
        for (int fd : fds_) ::close(fd);
    }
    bool full() const { return full_; }

  private:
    std::vector<int> fds_;
    bool full_ = false;
};

}  // namespace

TEST_CASE("pool: consecutive requests reuse one connection to the child", "[fake][pool]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    std::set<std::string> peers;
    for (int i = 0; i < 10; ++i) peers.insert(echo_peer(fake.port()));
    CHECK(peers.size() == 1);
    // A POST with a body, then a GET: still the same connection.
    REQUIRE(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    CHECK(last_request_peer(fake.port()) == *peers.begin());
}

TEST_CASE("pool: upstream_keepalive = 0 opens a connection per request", "[fake][pool]") {
    FakeEngine fake("--fake-load-ms 0", "server.upstream_keepalive = 0\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    std::set<std::string> peers;
    for (int i = 0; i < 5; ++i) peers.insert(echo_peer(fake.port()));
    CHECK(peers.size() == 5);
    // And tells the child so, which then closes its side.
    auto echo = json::parse(http(fake.port(), "GET", "/fake/echo").body);
    CHECK(echo["headers"]["Connection"] == "close");
}

TEST_CASE("pool: at most upstream_keepalive idle connections stay open", "[fake][pool]") {
    FakeEngine fake("--fake-load-ms 0 --fake-response-delay-ms 300",
                    "server.upstream_keepalive = 2\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    {
        // Six requests at once need six connections.
        std::vector<std::unique_ptr<Background>> clients;
        std::atomic<int> ok{0};
        for (int i = 0; i < 6; ++i) {
            clients.push_back(std::make_unique<Background>([&] {
                if (http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200) ++ok;
            }));
        }
        for (auto& c : clients) c->join();
        REQUIRE(ok == 6);
    }
    // Afterwards the engine keeps two; the fake sees the others closed.
    CHECK(wait_until([&] { return child_connections(fake.port()) == 2; }, 5s, 50ms));
}

TEST_CASE("pool: a stream the client cut never lends its connection", "[fake][pool][stream]") {
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 50 --fake-stream-interval-ms 20");
    REQUIRE(fake.engine->wait_health(200, 10s));
    const std::string before = echo_peer(fake.port());
    auto cut = stream(fake.port(), "/v1/chat/completions", kStreamChat, 10s, 2);
    REQUIRE(cut.events.size() == 2);
    const std::string streamed = last_request_peer(fake.port());
    CHECK(streamed == before);  // the stream itself took the pooled connection
    // Once the engine has noticed, the stream's connection is closed, not kept.
    REQUIRE(fake.engine->wait_log("client went away", 5s));
    // The next requests get whole, clean answers on other connections.
    for (int i = 0; i < 3; ++i) {
        auto echo = http(fake.port(), "GET", "/fake/echo");
        REQUIRE(echo.status == 200);
        CHECK(json::parse(echo.body)["peer"] != streamed);
    }
}

TEST_CASE("pool: a finished stream does not lend its connection either", "[fake][pool][stream]") {
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 3");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto whole = stream(fake.port(), "/v1/chat/completions", kStreamChat);
    REQUIRE(whole.complete);
    const std::string streamed = last_request_peer(fake.port());
    CHECK(echo_peer(fake.port()) != streamed);
}

TEST_CASE("pool: no request reaches the old child's connections after a restart",
          "[fake][pool][supervision]") {
    // A helper process keeps the old child's connections open after the child dies, so they
    // look alive: only the child generation tells them apart. A request sent on one would get no
    // answer (504 after the header timeout).
    FakeEngine fake("--fake-load-ms 0", kQuickRestart + "server.upstream_header_timeout = 3\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    std::set<std::string> old_peers;
    for (int i = 0; i < 3; ++i) old_peers.insert(echo_peer(fake.port()));
    auto held = http(fake.port(), "GET", "/fake/hold-connections/8000");
    REQUIRE(held.status == 200);
    const pid_t old_child = fake.child();
    REQUIRE(old_child > 0);
    kill_child(old_child, SIGKILL);
    REQUIRE(wait_until(
        [&] {
            pid_t now = fake.child();
            return now > 0 && now != old_child &&
                   http(fake.port(), "GET", "/health", "", {}, 2s).status == 200;
        },
        10s, 20ms));
    for (int i = 0; i < 3; ++i) {
        auto started = Clock::now();
        auto echo = http(fake.port(), "GET", "/fake/echo", "", {}, 10s);
        INFO(echo.body);
        REQUIRE(echo.status == 200);
        CHECK(Clock::now() - started < 2s);
        CHECK(old_peers.count(json::parse(echo.body)["peer"].get<std::string>()) == 0);
    }
}

TEST_CASE("pool: a request whose pooled connection died with the child waits for the restart",
          "[fake][pool][supervision]") {
    FakeEngine fake("--fake-load-ms 0", kQuickRestart);
    REQUIRE(fake.engine->wait_health(200, 10s));
    echo_peer(fake.port());  // one connection in the pool
    const pid_t old_child = fake.child();
    REQUIRE(old_child > 0);
    kill_child(old_child, SIGKILL);
    REQUIRE(wait_until([&] { return !process_alive(old_child); }, 5s));
    // At once, before the engine has a new child: the pooled connection is dead and a new one is
    // refused; the request waits for the next child instead of failing.
    auto chat = http(fake.port(), "POST", "/v1/chat/completions", kChat);
    CHECK(chat.status == 200);
}

TEST_CASE("pool: a connection the child closed while idle is not used", "[fake][pool]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    for (const std::string method : {"POST", "GET"}) {
        CAPTURE(method);
        const std::string closed = echo_peer(fake.port(), "/fake/close-after/0");
        // The child closed the pooled connection: the engine sees it before it sends (a POST is
        // never sent on it, and never sent twice), and uses a new connection.
        auto r = http(fake.port(), method, "/fake/echo", method == "POST" ? "{}" : "");
        REQUIRE(r.status == 200);
        CHECK(json::parse(r.body)["peer"] != closed);
    }
}

TEST_CASE("pool: a request left unread on a connection the child closes is sent again once",
          "[fake][pool]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    for (const std::string method : {"GET", "POST"}) {
        CAPTURE(method);
        // The child answers, keeps the connection 500 ms without reading it, then closes it with
        // the next request unread (so the engine gets a reset): that request was never
        // processed, and goes out again on a new connection, whatever its method.
        const std::string closing = echo_peer(fake.port(), "/fake/close-after/500");
        auto r = method == "GET" ? http(fake.port(), "GET", "/fake/echo")
                                 : http(fake.port(), "POST", "/v1/chat/completions", kChat);
        REQUIRE(r.status == 200);
        const std::string peer = method == "GET" ? json::parse(r.body)["peer"].get<std::string>()
                                                 : last_request_peer(fake.port());
        CHECK(peer != closing);
    }
}

TEST_CASE("pool: a request the child took in and dropped is sent again only if idempotent",
          "[fake][pool]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto hang_ups = [&] {
        return json::parse(http(fake.port(), "GET", "/fake/hang-ups").body)["count"].get<long>();
    };
    // The child reads the request, then closes without an answer: it may have acted on it.
    echo_peer(fake.port());  // a pooled connection for the next request
    auto post = http(fake.port(), "POST", "/fake/hang-up", "{}");
    CHECK(post.status == 502);
    CHECK(json::parse(post.body)["error"]["code"] == "upstream_failed");
    CHECK(hang_ups() == 1);  // a POST is not repeated behind the client's back
    echo_peer(fake.port());
    auto get = http(fake.port(), "GET", "/fake/hang-up");
    CHECK(get.status == 502);
    CHECK(hang_ups() == 3);  // a GET on a pooled connection is tried once more, on a new one
}

TEST_CASE("upstream_header_timeout: no first byte in time gets 504", "[fake][timeouts]") {
    FakeEngine fake("--fake-load-ms 0 --fake-response-delay-ms 5000",
                    "server.upstream_header_timeout = 0.5\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto started = Clock::now();
    auto chat = http(fake.port(), "POST", "/v1/chat/completions", kChat);
    auto took = Clock::now() - started;
    CHECK(chat.status == 504);
    auto error = json::parse(chat.body)["error"];
    CHECK(error["code"] == "upstream_timeout");
    CHECK(error["message"].get<std::string>().find("server.upstream_header_timeout") !=
          std::string::npos);
    CHECK(took >= 400ms);
    CHECK(took < 3s);
}

TEST_CASE("upstream_header_timeout bounds only the first byte, not the gaps of a stream",
          "[fake][timeouts][stream]") {
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 3 --fake-stream-interval-ms 800",
                    "server.upstream_header_timeout = 0.5\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto result = stream(fake.port(), "/v1/chat/completions", kStreamChat);
    CHECK(result.status == 200);
    CHECK(result.complete);
    CHECK(result.events.size() == 5);  // 3 tokens, the closing chunk, [DONE]
}

TEST_CASE("upstream_idle_timeout: a stream silent for too long ends with an error event",
          "[fake][timeouts][stream]") {
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 3 --fake-stream-interval-ms 1500",
                    "server.upstream_idle_timeout = 0.6\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto result = stream(fake.port(), "/v1/chat/completions", kStreamChat);
    CHECK(result.status == 200);
    REQUIRE(result.complete);  // properly ended by the engine
    REQUIRE_FALSE(result.events.empty());
    CHECK(result.events.back().find("server.upstream_idle_timeout") != std::string::npos);
}

TEST_CASE("upstream_connect_timeout: a child that accepts no connection gets 504",
          "[fake][timeouts]") {
    FakeEngine fake("--fake-load-ms 0",
                    "server.upstream_connect_timeout = 0.5\n"
                    "server.upstream_keepalive = 0\n"
                    "models.m.liveness.interval = 60\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    const pid_t child = fake.child();
    REQUIRE(child > 0);
    const uint16_t port = child_port(*fake.engine);
    REQUIRE(port > 0);
    kill_child(child, SIGSTOP);  // the kernel still completes handshakes until the queue is full
    struct Resume {
        pid_t pid;
        ~Resume() { ::kill(pid, SIGCONT); }
    } resume{child};
    Backlog backlog(port, 2000);
    REQUIRE(backlog.full());
    auto started = Clock::now();
    auto chat = http(fake.port(), "POST", "/v1/chat/completions", kChat);
    auto took = Clock::now() - started;
    CHECK(chat.status == 504);
    auto error = json::parse(chat.body)["error"];
    CHECK(error["code"] == "upstream_timeout");
    CHECK(error["message"].get<std::string>().find("server.upstream_connect_timeout") !=
          std::string::npos);
    CHECK(took >= 400ms);
    CHECK(took < 3s);
}

TEST_CASE("forwarded requests carry X-Forwarded-For, X-Forwarded-Proto and Via",
          "[fake][proxy][headers]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto plain = json::parse(http(fake.port(), "GET", "/fake/echo").body)["headers"];
    CHECK(plain["X-Forwarded-For"] == "127.0.0.1");
    CHECK(plain["X-Forwarded-Proto"] == "http");
    CHECK(plain["Via"] == "1.1 gradatum-engine");
    // Behind another proxy: the chain is extended; the scheme is what the engine received.
    auto chained = json::parse(
        http(fake.port(), "GET", "/fake/echo", "",
             {{"X-Forwarded-For", "10.1.2.3"}, {"X-Forwarded-Proto", "https"}, {"Via", "1.1 edge"}})
            .body)["headers"];
    CHECK(chained["X-Forwarded-For"] == "10.1.2.3, 127.0.0.1");
    CHECK(chained["X-Forwarded-Proto"] == "http");
    CHECK(chained["Via"] == "1.1 edge, 1.1 gradatum-engine");
}

TEST_CASE("event streams carry X-Accel-Buffering: no, once", "[fake][proxy][stream]") {
    SECTION("added when the child does not send it") {
        FakeEngine fake("--fake-load-ms 0 --fake-stream-events 2 --fake-no-accel-buffering");
        REQUIRE(fake.engine->wait_health(200, 10s));
        auto result = stream(fake.port(), "/v1/chat/completions", kStreamChat);
        REQUIRE(result.complete);
        CHECK(result.headers.count("x-accel-buffering") == 1);
        CHECK(result.header("x-accel-buffering") == "no");
        // Not on other answers.
        CHECK(http(fake.port(), "GET", "/fake/echo").count("x-accel-buffering") == 0);
    }
    SECTION("not doubled when the child sends it") {
        FakeEngine fake("--fake-load-ms 0 --fake-stream-events 2");
        REQUIRE(fake.engine->wait_health(200, 10s));
        auto result = stream(fake.port(), "/v1/chat/completions", kStreamChat);
        REQUIRE(result.complete);
        CHECK(result.headers.count("x-accel-buffering") == 1);
    }
}

TEST_CASE("a stream to a client that stops reading for a while arrives whole",
          "[fake][stream][relay]") {
    // 20,000 events at once: far more than the socket buffers hold, so the engine's writes to
    // the client block (the relay hands the stream back to its thread, which finishes the write
    // and hands it over again), many times.
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 20000 --fake-stream-interval-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress::IPv4);
    socket.setReceiveBufferSize(4096);  // small: the engine's send buffer fills soon
    socket.connect(Poco::Net::SocketAddress("127.0.0.1", fake.port()));
    socket.setReceiveTimeout(Poco::Timespan(30, 0));
    const std::string request =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
        std::to_string(kStreamChat.size()) + "\r\nConnection: close\r\n\r\n" + kStreamChat;
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    std::this_thread::sleep_for(1500ms);  // not reading
    std::string raw;
    char buffer[65536];
    int n;
    while ((n = socket.receiveBytes(buffer, sizeof buffer)) > 0) {
        raw.append(buffer, static_cast<size_t>(n));
        std::this_thread::sleep_for(1ms);  // and then slowly
    }
    auto body_at = raw.find("\r\n\r\n");
    REQUIRE(body_at != std::string::npos);
    gradatum::proxy::ChunkedDecoder decoder;
    std::string body;
    REQUIRE(decoder.feed(raw.data() + body_at + 4, raw.size() - body_at - 4, body));
    CHECK(decoder.done());
    size_t tokens = 0;
    for (size_t at = 0; (at = body.find("\"tok", at)) != std::string::npos; ++at) ++tokens;
    CHECK(tokens == 20000);
    CHECK(body.size() - body.rfind("data: [DONE]\n\n") == 14);
}
