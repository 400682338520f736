// The fast lane (server.fast_lane): GET and HEAD requests to a ready model forwarded on the
// event loop, without a request thread. The pool's rules (reuse, no reuse after a restart or a
// cut stream, a retry when a pooled connection turns out closed) are in
// test_fake_upstream_pool.cpp, whose GET requests go through the lane.
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

// Everything the engine sends on one connection after `request`, until it closes.
std::string exchange(uint16_t port, const std::string& request) {
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    std::string answer;
    char buffer[4096];
    int n;
    while ((n = socket.receiveBytes(buffer, sizeof buffer)) > 0) answer.append(buffer, n);
    return answer;
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("fast lane: small requests are answered while every request thread is busy",
          "[fake][lane]") {
    for (const bool lane : {true, false}) {
        CAPTURE(lane);
        TempDir other;
        // Model m streams (each stream holds a request thread); model b answers small GETs.
        FakeEngine fake(
            "--fake-load-ms 0 --fake-stream-events 80 --fake-stream-interval-ms 100",
            "server.threads = 4\n"
            "server.fast_lane = " +
                std::string(lane ? "true" : "false") + "\n" +
                fake_model_config("b", other.write("b.gguf", "fake"), "--fake-load-ms 0"));
        REQUIRE(fake.engine->wait_health(200, 10s));
        // A kept-open connection to b's child for the lane to use.
        REQUIRE(http(fake.port(), "GET", "/fake/echo?model=b").status == 200);
        std::vector<std::unique_ptr<Background>> streams;
        std::atomic<int> begun{0};
        for (int i = 0; i < 4; ++i) {
            streams.push_back(std::make_unique<Background>([&] {
                // A worker that has just answered may not count as free yet (503 server_busy
                // to a stream that came at once): such a stream tries again.
                for (int tries = 0; tries < 40; ++tries) {
                    auto result = stream(fake.port(), "/v1/chat/completions", kStreamChat, 30s, 0,
                                         [&](size_t events) {
                                             if (events == 1) ++begun;
                                         });
                    if (result.status == 200) return;
                    std::this_thread::sleep_for(50ms);
                }
            }));
        }
        REQUIRE(wait_until([&] { return begun == 4; }, 5s));
        // Every request thread holds a stream: a request that needs one is refused.
        auto post = http(fake.port(), "POST", "/fake/echo", "{}");
        CHECK(post.status == 503);
        CHECK(post.body.find("server_busy") != std::string::npos);
        auto small = http(fake.port(), "GET", "/fake/echo?model=b");
        CHECK(small.status == (lane ? 200 : 503));
        streams.clear();
    }
}

TEST_CASE("fast lane: pipelined GET and HEAD requests are answered in order", "[fake][lane]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    REQUIRE(http(fake.port(), "GET", "/fake/echo").status == 200);  // a pooled connection
    const std::string answer = exchange(fake.port(),
                                        "GET /fake/echo/one HTTP/1.1\r\nHost: x\r\n\r\n"
                                        "HEAD /fake/echo/two HTTP/1.1\r\nHost: x\r\n\r\n"
                                        "GET /fake/echo/three HTTP/1.1\r\nHost: x\r\n"
                                        "Connection: close\r\n\r\n");
    CHECK(count(answer, "HTTP/1.1 200") == 3);
    const size_t one = answer.find("/fake/echo/one");
    const size_t three = answer.find("/fake/echo/three");
    REQUIRE(one != std::string::npos);
    REQUIRE(three != std::string::npos);
    CHECK(one < three);
    CHECK(answer.find("/fake/echo/two") == std::string::npos);  // HEAD: no body
    CHECK(fake.engine->wait_log_count(" /fake/echo/", 3, 5s));  // three access lines
}

TEST_CASE("fast lane: a client that leaves before a slow answer is noticed", "[fake][lane]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    REQUIRE(http(fake.port(), "GET", "/fake/echo").status == 200);  // a pooled connection
    {
        Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", fake.port()));
        const std::string request = "GET /fake/slow/3000 HTTP/1.1\r\nHost: x\r\n\r\n";
        socket.sendBytes(request.data(), static_cast<int>(request.size()));
        std::this_thread::sleep_for(300ms);
    }  // closed
    // Long before the child would answer: the request ends as cut by the client.
    CHECK(fake.engine->wait_log("GET /fake/slow/3000 0 in=0 out=0", 2s));
    CHECK(fake.engine->log_count("cut=client") == 1);
}

TEST_CASE("fast lane: a child that answers too late gets 504, and the next request goes on",
          "[fake][lane][timeouts]") {
    FakeEngine fake("--fake-load-ms 0", "server.upstream_header_timeout = 0.5\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    REQUIRE(http(fake.port(), "GET", "/fake/echo").status == 200);  // a pooled connection
    auto started = Clock::now();
    auto slow = http(fake.port(), "GET", "/fake/slow/3000");
    CHECK(slow.status == 504);
    CHECK(json::parse(slow.body)["error"]["code"] == "upstream_timeout");
    CHECK(Clock::now() - started < 2500ms);
    CHECK(http(fake.port(), "GET", "/fake/echo").status == 200);
}
