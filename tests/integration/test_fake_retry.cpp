// A request whose child dies before the first byte of its answer is sent again, once, to the
// restarted child (nothing reached the client); once the answer has begun, a dying child cuts it
// and nothing is sent twice.
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

const std::string kQuickRestarts =
    "models.m.restart.initial_delay = 0.05\n"
    "models.m.restart.max_delay = 0.2\n"
    "models.m.restart.jitter = 0\n";

// The line the front door logs for each request that goes to the next child.
const std::string kRetried = "waiting for the next child";

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// The last completion request the (current) child saw, or null if none.
json last_request(uint16_t port) {
    auto r = http(port, "GET", "/fake/last-request");
    return r.status == 200 ? json::parse(r.body) : json();
}

}  // namespace

TEST_CASE("retry: a child killed before it answers a request: the next child answers it",
          "[fake][retry][supervision]") {
    TempDir marks;
    const std::string once = marks.path() + "/died";
    FakeEngine fake("--fake-load-ms 0 --fake-die-before-answer-once " + once, kQuickRestarts);
    REQUIRE(fake.engine->wait_health(200, 10s));
    const pid_t first = fake.child();
    REQUIRE(first > 0);

    SECTION("non-streaming (llama-server sends its head when the answer is complete)") {
        auto answer = http(fake.port(), "POST", "/v1/chat/completions", kChat, {}, 15s);
        INFO(answer.body);
        REQUIRE(answer.status == 200);
        CHECK(json::parse(answer.body)["object"] == "chat.completion");
    }
    SECTION("streaming, killed before its head went out") {
        auto result = stream(fake.port(), "/v1/chat/completions", kStreamChat, 15s);
        REQUIRE(result.status == 200);
        CHECK(result.complete);
        REQUIRE_FALSE(result.events.empty());
        CHECK(result.events.back() == "data: [DONE]");
        CHECK(result.events.size() == 7);  // 5 tokens, the closing chunk, [DONE]: one answer
    }
    CHECK(exists(once));  // the first child did read the request before it died
    CHECK(fake.engine->log_contains("killing myself on purpose (--fake-die-before-answer-once)"));
    // The request went to the restarted child, once; the engine says so, once.
    CHECK(fake.child() != first);
    CHECK(last_request(fake.port())["uri"] == "/v1/chat/completions");
    CHECK(fake.engine->log_count(kRetried) == 1);
    CHECK(fake.engine->log_contains("went away before answering"));
    CHECK(admin_model(fake.port())["starts"] == 2);
}

TEST_CASE("retry: a killed child whose port still takes connections: the next child answers",
          "[fake][retry][supervision]") {
    // The port is no proof of life: a killed process releases its sockets one by one (on a
    // loaded machine it can wait for a CPU between the connection and the listener), and here
    // a helper keeps the listener open for 3 s. The engine asks the kernel about the process.
    TempDir marks;
    FakeEngine fake(
        "--fake-load-ms 0 --fake-listener-outlives-ms 3000 "
        "--fake-die-before-answer-once " +
            marks.path() + "/died",
        kQuickRestarts);
    REQUIRE(fake.engine->wait_health(200, 10s));
    const pid_t first = fake.child();
    auto answer = http(fake.port(), "POST", "/v1/chat/completions", kChat, {}, 15s);
    INFO(answer.body);
    REQUIRE(answer.status == 200);
    CHECK(fake.child() != first);
    CHECK(fake.engine->log_count(kRetried) == 1);
    CHECK(admin_model(fake.port())["starts"] == 2);
}

TEST_CASE("retry: a child killed from outside while it generates: the next child answers",
          "[fake][retry][supervision]") {
    FakeEngine fake("--fake-load-ms 0 --metrics --fake-response-delay-ms 1500", kQuickRestarts);
    REQUIRE(fake.engine->wait_health(200, 10s));
    const pid_t child = fake.child();
    const uint16_t direct = child_port(*fake.engine);
    const std::string key = child_api_key(child);  // the child's own secret, from its environ
    REQUIRE(requests_processing(direct, key) == 0);
    HttpResult answer;
    Background client(
        [&] { answer = http(fake.port(), "POST", "/v1/chat/completions", kChat, {}, 20s); });
    // Kill the child once the request is in its hands (the fake counts the requests it is on).
    REQUIRE(wait_until([&] { return requests_processing(direct, key) == 1; }, 5s));
    kill_child(child, SIGKILL);
    client.join();
    INFO(answer.body);
    CHECK(answer.status == 200);
    CHECK(fake.child() != child);
    CHECK(fake.engine->log_count(kRetried) == 1);
}

TEST_CASE("retry: a stream whose child dies after its first event is cut, not sent again",
          "[fake][retry][stream]") {
    FakeEngine fake(
        "--fake-load-ms 0 --fake-stream-events 50 --fake-stream-interval-ms 20 "
        "--fake-crash-after-events 1",
        kQuickRestarts);
    REQUIRE(fake.engine->wait_health(200, 10s));
    const pid_t first = fake.child();
    auto result = stream(fake.port(), "/v1/chat/completions", kStreamChat, 10s);
    REQUIRE(result.status == 200);
    CHECK(result.complete);  // ended properly by the engine
    // The one event the child sent, then the engine's error event: no second answer.
    REQUIRE(result.events.size() == 2);
    CHECK(result.events[0].find("tok0") != std::string::npos);
    auto error = json::parse(result.events[1].substr(6));
    CHECK(error["error"]["code"] == "upstream_failed");
    // The restarted child never saw the request.
    REQUIRE(wait_until([&] { return fake.child() > 0 && fake.child() != first; }, 10s));
    REQUIRE(fake.engine->wait_health(200, 10s));
    CHECK(last_request(fake.port()).is_null());
    CHECK(fake.engine->log_count(kRetried) == 0);
}

TEST_CASE("retry: an answer whose child dies after its head is cut, not sent again",
          "[fake][retry]") {
    FakeEngine fake("--fake-load-ms 0", kQuickRestarts);
    REQUIRE(fake.engine->wait_health(200, 10s));
    const pid_t first = fake.child();
    auto cut = http(fake.port(), "GET", "/fake/die-mid-answer", "", {}, 10s);
    // The child's head went out as it came: the client sees a body shorter than announced.
    CHECK(cut.status == 200);
    CHECK(cut.header("content-length") == "1000");
    CHECK(cut.body.size() < 1000);
    REQUIRE(wait_until([&] { return fake.child() > 0 && fake.child() != first; }, 10s));
    REQUIRE(fake.engine->wait_health(200, 10s));
    // Sent again, the request would have killed the next child too (its own line in the log,
    // besides the quote in the exit's reason).
    INFO(fake.engine->log());
    CHECK(fake.engine->log_count("[m] fake-llama-server: killing myself on purpose") == 1);
    CHECK(fake.engine->log_count(kRetried) == 0);
    CHECK(fake.child() > 0);
}

TEST_CASE("retry: a live child that closes without answering is not sent the request again",
          "[fake][retry]") {
    // The child took the request in and closed: it may have acted on it, and it is still there
    // (its port takes connections), so there is no next child to wait for.
    FakeEngine fake("--fake-load-ms 0", "server.upstream_keepalive = 0\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    const pid_t child = fake.child();
    auto started = Clock::now();
    auto post = http(fake.port(), "POST", "/fake/hang-up", "{}");
    CHECK(Clock::now() - started < 2s);
    CHECK(post.status == 502);
    CHECK(json::parse(post.body)["error"]["code"] == "upstream_failed");
    CHECK(json::parse(http(fake.port(), "GET", "/fake/hang-ups").body)["count"] == 1);
    CHECK(fake.child() == child);
    CHECK(fake.engine->log_count(kRetried) == 0);
}
