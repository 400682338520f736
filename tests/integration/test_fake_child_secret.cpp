// The secret per child: without llama_server.api_key, every child gets a fresh random key in its
// environment, refuses whoever does not send it (a local user who found its loopback port), and
// the engine sends it upstream. The key is on no command line and in no log line.
#include <Poco/String.h>
#include <signal.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

namespace {

const std::string kQuickRestart =
    "models.m.restart.initial_delay = 0.05\n"
    "models.m.restart.max_delay = 0.2\n"
    "models.m.restart.jitter = 0\n";

bool is_hex_key(const std::string& key) {
    return key.size() == 64 && std::all_of(key.begin(), key.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// The Authorization headers the fake got last (it reports names as they arrived).
std::vector<std::string> authorization_seen(uint16_t engine_port) {
    auto last = http(engine_port, "GET", "/fake/last-request");
    REQUIRE(last.status == 200);
    std::vector<std::string> values;
    const json record = json::parse(last.body);
    for (auto& [name, value] : record["headers"].items()) {
        if (Poco::icompare(name, "Authorization") == 0) values.push_back(value);
    }
    return values;
}

Headers bearer(const std::string& key) {
    return {{"Authorization", "Bearer " + key}};
}

}  // namespace

TEST_CASE("a child without a configured key refuses direct requests, the engine gets through",
          "[fake][secret]") {
    // Trace level: a key that leaks into any log line, even a debug one, shows here.
    FakeEngine fake("--fake-load-ms 0", "logging.level = trace\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    pid_t pid = fake.child();
    REQUIRE(pid > 0);
    uint16_t direct = child_port(*fake.engine);
    REQUIRE(direct != 0);
    const std::string key = child_api_key(pid);
    REQUIRE(is_hex_key(key));

    // Without the key, or with a wrong one: llama-server's own 401.
    for (const auto& [method, target] :
         std::vector<std::pair<std::string, std::string>>{{"POST", "/v1/chat/completions"},
                                                          {"POST", "/completion"},
                                                          {"GET", "/v1/models"},
                                                          {"GET", "/props"},
                                                          {"GET", "/metrics"}}) {
        INFO(method << " " << target);
        auto answer = http(direct, method, target, method == "POST" ? kChat : "");
        CHECK(answer.status == 401);
        auto error = json::parse(answer.body)["error"];
        CHECK(error["message"] == "Invalid API Key");
        CHECK(error["type"] == "authentication_error");
        CHECK(error["code"] == 401);
    }
    CHECK(
        http(direct, "POST", "/v1/chat/completions", kChat, bearer(std::string(64, 'a'))).status ==
        401);
    CHECK(http(direct, "POST", "/v1/chat/completions", kChat, bearer(key.substr(0, 63))).status ==
          401);
    // /health needs none: it is the engine's readiness probe.
    CHECK(http(direct, "GET", "/health").status == 200);
    // The right key works directly too (both header forms llama-server takes).
    CHECK(http(direct, "POST", "/v1/chat/completions", kChat, bearer(key)).status == 200);
    CHECK(http(direct, "GET", "/v1/models", "", {{"X-Api-Key", key}}).status == 200);

    // The client sends nothing; the engine adds the child's key.
    CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    CHECK(authorization_seen(fake.port()) == std::vector<std::string>{"Bearer " + key});

    // Not on the child's command line (every local user can read that), not in the engine's log.
    auto cmdline = proc_strings(pid, "cmdline");
    REQUIRE(cmdline.size() > 3);
    for (const auto& arg : cmdline) CHECK(arg.find(key) == std::string::npos);
    CHECK(fake.engine->stop() == 0);
    fake.engine->drain_output();
    REQUIRE(fake.engine->log_contains("model m: starting -> ready"));
    CHECK_FALSE(fake.engine->log_contains(key));
}

TEST_CASE("a client's own Authorization or x-api-key does not displace the child's key",
          "[fake][secret]") {
    // OpenAI clients always send "Authorization: Bearer <their api_key>", even a dummy one.
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    const std::string key = child_api_key(fake.child());
    REQUIRE(is_hex_key(key));
    for (const Headers& client :
         {Headers{{"Authorization", "Bearer sk-no-key-required"}},
          Headers{{"authorization", "Basic dXNlcjpwdw=="}}, Headers{{"x-api-key", "sk-client"}}}) {
        INFO(client[0].first << ": " << client[0].second);
        CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat, client).status == 200);
        CHECK(authorization_seen(fake.port()) == std::vector<std::string>{"Bearer " + key});
    }
}

TEST_CASE("a restarted child gets a new key and the engine follows", "[fake][secret]") {
    FakeEngine fake("--fake-load-ms 0", kQuickRestart);
    REQUIRE(fake.engine->wait_health(200, 10s));
    pid_t first = fake.child();
    REQUIRE(first > 0);
    const std::string first_key = child_api_key(first);
    REQUIRE(is_hex_key(first_key));

    kill_child(first, SIGKILL);
    REQUIRE(fake.engine->wait_log_count("model m: starting -> ready", 2, 10s));
    pid_t second = fake.child();
    REQUIRE(second > 0);
    REQUIRE(second != first);
    const std::string second_key = child_api_key(second);
    REQUIRE(is_hex_key(second_key));
    CHECK(second_key != first_key);

    // The old child's key opens nothing on the new child; the engine sends the new one.
    uint16_t direct = child_port(*fake.engine);
    CHECK(http(direct, "POST", "/v1/chat/completions", kChat, bearer(first_key)).status == 401);
    CHECK(http(direct, "POST", "/v1/chat/completions", kChat, bearer(second_key)).status == 200);
    CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    CHECK_FALSE(fake.engine->log_contains(first_key));
    CHECK_FALSE(fake.engine->log_contains(second_key));
}

TEST_CASE("a configured api_key is the child's key, start after start", "[fake][secret]") {
    FakeEngine fake("--fake-load-ms 0",
                    kQuickRestart + "models.m.llama_server.api_key = chosen-k3y\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    pid_t first = fake.child();
    CHECK(child_api_key(first) == "chosen-k3y");
    kill_child(first, SIGKILL);
    REQUIRE(fake.engine->wait_log_count("model m: starting -> ready", 2, 10s));
    CHECK(child_api_key(fake.child()) == "chosen-k3y");
    CHECK(http(child_port(*fake.engine), "GET", "/v1/models").status == 401);
    CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    CHECK_FALSE(fake.engine->log_contains("chosen-k3y"));
}
