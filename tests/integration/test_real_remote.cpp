// The remote backend against the real llama-server with the tiny model, started by the test
// itself (with its own API key): the engine serves it, shows it, survives its restart, and never
// starts or stops a process.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

const std::string kTinyChat = tiny_chat("tiny", 4);

std::unique_ptr<ServerProcess> real_remote(uint16_t port) {
    const RealParts& parts = real_parts();
    return std::make_unique<ServerProcess>(
        std::vector<std::string>{parts.llama_server, "--model", parts.model, "--host", "127.0.0.1",
                                 "--port", std::to_string(port), "--ctx-size", "4096", "--alias",
                                 "tiny"},
        port, std::vector<std::string>{"LLAMA_API_KEY=remote-key"});
}

bool state_is(uint16_t port, const std::string& state) {
    try {
        return admin_model(port, "tiny")["state"] == state;
    } catch (const std::exception&) {
        return false;
    }
}

}  // namespace

TEST_CASE("the real llama-server as a remote target, through an outage", "[real][remote]") {
    const uint16_t remote_port = free_port();
    auto remote = real_remote(remote_port);
    remote->start();
    if (!remote->wait_health(120s)) FAIL("llama-server did not come up:\n" << remote->output());

    Engine engine(
        "models.tiny.backend = remote\n"
        "models.tiny.remote.url = http://127.0.0.1:" +
        std::to_string(remote_port) +
        "\n"
        "models.tiny.remote.api_key = remote-key\n"
        "models.tiny.remote.retry_interval = 0.2\n"
        "models.tiny.remote.retry_max = 1\n"
        "models.tiny.liveness.interval = 0.5\n"
        "models.tiny.liveness.failures = 2\n");
    REQUIRE(wait_until([&] { return state_is(engine.port(), "ready"); }, 30s, 50ms));
    json m = admin_model(engine.port(), "tiny");
    CHECK(m["pid"] == 0);
    CHECK(m["remote"] == "http://127.0.0.1:" + std::to_string(remote_port));

    auto chat = http(engine.port(), "POST", "/v1/chat/completions", kTinyChat,
                     {{"Content-Type", "application/json"}}, 120s);
    INFO(chat.body);
    REQUIRE(chat.status == 200);
    json answer = json::parse(chat.body);
    CHECK(answer["object"] == "chat.completion");
    CHECK(answer["usage"]["completion_tokens"].get<int>() >= 1);
    CHECK(children_of(engine.pid()).empty());

    remote->kill();
    REQUIRE(wait_until([&] { return state_is(engine.port(), "backoff"); }, 30s, 50ms));
    auto refused = http(engine.port(), "POST", "/v1/chat/completions", kTinyChat);
    CHECK(refused.status == 503);
    CHECK(json::parse(refused.body)["error"]["code"] == "remote_unreachable");

    remote = real_remote(remote_port);
    remote->start();
    REQUIRE(remote->wait_health(120s));
    REQUIRE(wait_until([&] { return state_is(engine.port(), "ready"); }, 30s, 50ms));
    CHECK(http(engine.port(), "POST", "/v1/chat/completions", kTinyChat,
               {{"Content-Type", "application/json"}}, 120s)
              .status == 200);
    CHECK(children_of(engine.pid()).empty());
    CHECK_FALSE(engine.log_contains("remote-key"));
    CHECK(engine.stop() == 0);
    CHECK(remote->running());  // the engine's stop leaves the remote alone
}
