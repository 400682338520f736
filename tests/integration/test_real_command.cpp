// The real llama-server started by the command backend (not the llama_server plugin): the
// engine spawns it from command.argv, probes its /health and forwards a chat completion to it.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

TEST_CASE("real: llama-server through the command backend answers a chat completion",
          "[real][command]") {
    const RealParts& parts = real_parts();
    Engine engine(
        "models.tiny.backend = command\n"
        "models.tiny.command.argv = " +
        shell_quote(parts.llama_server) + " -m " + shell_quote(parts.model) +
        " --host {host} --port {port} --alias {model_name} --ctx-size 2048 --parallel 1\n"
        // llama-server takes its key from LLAMA_API_KEY; a fresh one per start.
        "models.tiny.command.key_env = LLAMA_API_KEY\n"
        "models.tiny.restart.initial_delay = 0.1\n");
    REQUIRE(engine.wait_health(200, 60s));
    uint16_t direct = child_port(engine);
    REQUIRE(direct != 0);
    const std::string chat = tiny_chat("tiny");
    // The child demands the key the engine gave it; the engine sends it.
    CHECK(http(direct, "POST", "/v1/chat/completions", chat, {{"Content-Type", "application/json"}})
              .status == 401);
    auto answer = http(engine.port(), "POST", "/v1/chat/completions", chat,
                       {{"Content-Type", "application/json"}});
    INFO(answer.body);
    REQUIRE(answer.status == 200);
    auto body = json::parse(answer.body);
    CHECK(body["object"] == "chat.completion");
    CHECK(body["model"] == "tiny");  // --alias {model_name}
    REQUIRE(body["choices"].size() == 1);
    CHECK(body["choices"][0]["message"]["role"] == "assistant");
    CHECK(body["choices"][0]["message"]["content"].is_string());
    CHECK(body["usage"]["completion_tokens"].get<int>() > 0);
    CHECK(engine.stop() == 0);
}
