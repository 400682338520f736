// The engine in front of the real llama-server with the tiny model: every answer through the
// engine must match the same request sent straight to the child in status, type and shape.
#include <signal.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

// A JSON value's skeleton: object keys with the skeletons of their values, the first element
// of arrays, the type of scalars. Two answers of one endpoint have the same skeleton.
json shape(const json& value) {
    if (value.is_object()) {
        json out = json::object();
        for (auto& [key, item] : value.items()) out[key] = shape(item);
        return out;
    }
    if (value.is_array()) return value.empty() ? json::array() : json::array({shape(value[0])});
    if (value.is_number()) return "number";
    return value.type_name();
}

struct RealEngine {
    std::unique_ptr<Engine> engine;
    uint16_t child = 0;
    // For requests straight to the child: its per-spawn secret, read from its environment.
    std::vector<std::pair<std::string, std::string>> auth;

    explicit RealEngine(const std::string& extra = "") {
        engine = std::make_unique<Engine>(
            real_model_config("models.tiny.llama_server.ctx_size = 4096\n" + extra));
        REQUIRE(engine->wait_health(200, 60s));
        child = child_port(*engine);
        REQUIRE(child != 0);
        pid_t pid = only_child(*engine);
        REQUIRE(pid > 0);
        auth = child_auth(pid);
        REQUIRE(auth.size() == 1);
    }
    uint16_t port() const { return engine->port(); }
};

// Sends the same request to the engine and to the child; both must agree.
void expect_same_answer(const RealEngine& real, const std::string& method,
                        const std::string& target, const std::string& body = "",
                        bool json_body = true) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
    auto via_engine = http(real.port(), method, target, body, headers);
    headers.insert(headers.end(), real.auth.begin(), real.auth.end());
    auto direct = http(real.child, method, target, body, headers);
    INFO(method << " " << target << "\nengine: " << via_engine.body << "\nchild: " << direct.body);
    CHECK(via_engine.status == direct.status);
    CHECK(via_engine.header("content-type") == direct.header("content-type"));
    if (json_body) {
        CHECK(shape(json::parse(via_engine.body)) == shape(json::parse(direct.body)));
    }
    CHECK(via_engine.status == 200);
}

// Greedy decoding that never stops early, so both runs produce the same tokens; byte tokens are
// banned because random bytes form invalid UTF-8, which llama-server's output parser answers
// with a 500 ("does not match the expected ... format").
std::string generation(json body) {
    body["temperature"] = 0;
    body["seed"] = 1;
    body["ignore_eos"] = true;
    body["logit_bias"] = banned_byte_tokens();
    return body.dump();
}

const json kHello = json::array({{{"role", "user"}, {"content", "hello"}}});
const std::string kGreedyStream =
    generation({{"stream", true}, {"max_tokens", 24}, {"messages", kHello}});

}  // namespace

TEST_CASE("real: /v1/models is the engine's own list, in the OpenAI shape the child uses",
          "[real]") {
    // The engine answers it (README: every model and alias, running or not, with its state);
    // llama-server's extras (meta, its Ollama-style "models") are not passed on.
    RealEngine real;
    auto via_engine = http(real.port(), "GET", "/v1/models");
    auto direct = http(real.child, "GET", "/v1/models", "", real.auth);
    INFO("engine: " << via_engine.body << "\nchild: " << direct.body);
    REQUIRE(via_engine.status == 200);
    REQUIRE(direct.status == 200);
    CHECK(via_engine.header("content-type") == direct.header("content-type"));
    auto ours = json::parse(via_engine.body);
    auto theirs = json::parse(direct.body);
    CHECK(ours["object"] == theirs["object"]);
    REQUIRE(ours["data"].size() == 1);
    REQUIRE(theirs["data"].size() == 1);
    const json& entry = ours["data"][0];
    const json& child_entry = theirs["data"][0];
    CHECK(entry["id"] == child_entry["id"]);  // the child's --alias is the model's name
    for (const char* key : {"id", "object", "created", "owned_by"}) {
        INFO(key);
        REQUIRE(entry.contains(key));
        CHECK(shape(entry[key]) == shape(child_entry[key]));
        CHECK(entry[key].type() == child_entry[key].type());
    }
    CHECK(entry["status"] == "ready");
}

TEST_CASE("real: chat completion, not streamed", "[real]") {
    RealEngine real;
    expect_same_answer(real, "POST", "/v1/chat/completions",
                       generation({{"max_tokens", 8}, {"messages", kHello}}));
}

TEST_CASE("real: chat completion, streamed event by event", "[real][stream]") {
    RealEngine real;
    auto via_engine = stream(real.port(), "/v1/chat/completions", kGreedyStream);
    auto direct =
        stream(real.child, "/v1/chat/completions", kGreedyStream, 30s, 0, nullptr, real.auth);
    REQUIRE(via_engine.status == 200);
    CHECK(via_engine.header("content-type") == direct.header("content-type"));
    CHECK(via_engine.complete);
    REQUIRE_FALSE(via_engine.events.empty());
    CHECK(via_engine.events.back() == "data: [DONE]");
    CHECK(via_engine.events.size() == direct.events.size());
    // In order: every event but the last is a chunk of the same completion.
    std::string id;
    for (size_t i = 0; i + 1 < via_engine.events.size(); ++i) {
        REQUIRE(via_engine.events[i].rfind("data: {", 0) == 0);
        auto chunk = json::parse(via_engine.events[i].substr(6));
        CHECK(chunk["object"] == "chat.completion.chunk");
        if (id.empty()) id = chunk["id"];
        CHECK(chunk["id"] == id);
    }
}

TEST_CASE("real: /v1/completions", "[real]") {
    RealEngine real;
    expect_same_answer(real, "POST", "/v1/completions",
                       generation({{"prompt", "Once"}, {"max_tokens", 8}}));
}

TEST_CASE("real: /v1/embeddings with embeddings = true", "[real]") {
    RealEngine real(
        "models.tiny.llama_server.embeddings = true\n"
        "models.tiny.llama_server.args = --pooling mean\n");
    expect_same_answer(real, "POST", "/v1/embeddings", R"({"input":"hello world"})");
}

TEST_CASE("real: /tokenize, /props, /slots", "[real]") {
    RealEngine real;
    expect_same_answer(real, "POST", "/tokenize", R"({"content":"hello world"})");
    expect_same_answer(real, "GET", "/props");
    expect_same_answer(real, "GET", "/slots");
}

TEST_CASE("real: the engine's /metrics merges the child's own, labelled with the model",
          "[real][metrics]") {
    RealEngine real("models.tiny.llama_server.args = --metrics\nserver.metrics_children = true\n");
    auto via_engine = http(real.port(), "GET", "/metrics");
    auto direct = http(real.child, "GET", "/metrics", "", real.auth);
    CHECK(via_engine.status == 200);
    CHECK(direct.status == 200);
    CHECK(via_engine.header("content-type") == direct.header("content-type"));
    INFO(via_engine.body);
    CHECK(direct.body.find("llamacpp:prompt_tokens_total ") != std::string::npos);
    CHECK(via_engine.body.find("llamacpp:prompt_tokens_total{model=\"tiny\"} ") !=
          std::string::npos);
    CHECK(via_engine.body.find("gradatum_model_state{model=\"tiny\",state=\"ready\"} 1") !=
          std::string::npos);
}

TEST_CASE("real: the child refuses requests without its per-spawn key, the engine has it",
          "[real][secret]") {
    RealEngine real;
    pid_t pid = only_child(*real.engine);
    const std::string key = child_api_key(pid);
    REQUIRE(key.size() == 64);
    const std::string chat = generation({{"max_tokens", 4}, {"messages", kHello}});
    const std::vector<std::pair<std::string, std::string>> json_body = {
        {"Content-Type", "application/json"}};

    // A local user who finds the port: llama-server's own 401, for reads and generations alike.
    for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
             {"POST", "/v1/chat/completions"}, {"GET", "/v1/models"}, {"GET", "/props"}}) {
        INFO(method << " " << target);
        auto direct = http(real.child, method, target, method == "POST" ? chat : "", json_body);
        CHECK(direct.status == 401);
        CHECK(json::parse(direct.body)["error"]["type"] == "authentication_error");
    }
    auto wrong = json_body;
    wrong.push_back({"Authorization", "Bearer " + std::string(64, '0')});
    CHECK(http(real.child, "POST", "/v1/chat/completions", chat, wrong).status == 401);
    // /health stays open: it is the readiness probe.
    CHECK(http(real.child, "GET", "/health").status == 200);

    // Through the engine, with no key from the client: 200; with the dummy key an OpenAI client
    // sends, too.
    CHECK(http(real.port(), "POST", "/v1/chat/completions", chat, json_body).status == 200);
    CHECK(http(real.port(), "GET", "/v1/models").status == 200);
    CHECK(
        http(real.port(), "GET", "/v1/models", "", {{"Authorization", "Bearer sk-no-key-required"}})
            .status == 200);

    // Never on the command line, never in the engine's log (which relays the child's output).
    for (const auto& arg : proc_strings(pid, "cmdline")) CHECK(arg.find(key) == std::string::npos);
    CHECK_FALSE(real.engine->log_contains(key));
}

TEST_CASE("real: kill -9 of the child mid-stream ends the client's stream", "[real][stream]") {
    RealEngine real("models.tiny.llama_server.args = --threads 1\n");
    pid_t child = only_child(*real.engine);
    REQUIRE(child > 0);
    // A long answer, so the kill lands while it streams.
    const std::string body =
        generation({{"stream", true}, {"max_tokens", 100000}, {"messages", kHello}});
    auto start = Clock::now();
    auto result = stream(real.port(), "/v1/chat/completions", body, 20s, 0, [&](size_t count) {
        if (count == 3) kill_child(child, SIGKILL);
    });
    auto took = Clock::now() - start;
    CHECK(took < 5s);
    REQUIRE(result.events.size() >= 3);
    const std::string& last = result.events.back();
    INFO("last event: " << last);
    REQUIRE(last.rfind("data: {\"error\"", 0) == 0);
    CHECK(json::parse(last.substr(6))["error"]["code"] == "upstream_failed");
    CHECK(real.engine->wait_log("killed by signal 9", 5s));
}

// A slot's end shows in llama-server's own log ("slot release: ... stop processing"), which the
// engine relays as it comes. Polling /slots instead would change what it measures: each /slots
// answer wakes a non-streaming request's result wait and restarts its 1 s timer, so a busy poller
// keeps llama-server from ever looking at the closed connection.
constexpr const char* kSlotReleased = "stop processing";

TEST_CASE("real: a streaming client that leaves frees its slot within 1 s", "[real][disconnect]") {
    RealEngine real("models.tiny.llama_server.args = --threads 1\n");
    const std::string body =
        generation({{"stream", true}, {"max_tokens", 100000}, {"messages", kHello}});
    // Three events, then the client closes its connection mid-generation.
    auto result = stream(real.port(), "/v1/chat/completions", body, 20s, 3);
    auto left = Clock::now();
    REQUIRE(result.events.size() == 3);
    REQUIRE(real.engine->wait_log(kSlotReleased, 10s));
    auto freed = Clock::now() - left;
    INFO("slot released " << std::chrono::duration_cast<std::chrono::milliseconds>(freed).count()
                          << " ms after the client left");
    CHECK(freed < 1s);
}

TEST_CASE("real: a non-streaming client that leaves frees its slot within 1.5 s",
          "[real][disconnect]") {
    RealEngine real("models.tiny.llama_server.args = --threads 1\n");
    const std::string body = generation({{"max_tokens", 100000}, {"messages", kHello}});
    Clock::time_point left;
    // The client gives up after 1.5 s (its receive timeout) and closes the connection.
    Background client([&] {
        http(real.port(), "POST", "/v1/chat/completions", body, {}, 1500ms);
        left = Clock::now();
    });
    REQUIRE(real.engine->wait_log("processing task", 10s));  // it is generating
    REQUIRE(client.done().wait(10s));
    CHECK_FALSE(real.engine->log_contains(kSlotReleased));  // still generating when it left
    REQUIRE(real.engine->wait_log(kSlotReleased, 10s));
    auto freed = Clock::now() - left;
    INFO("slot released " << std::chrono::duration_cast<std::chrono::milliseconds>(freed).count()
                          << " ms after the client left");
    // The engine sees the client leave within 0.1 s and closes its upstream connection; a
    // non-streaming llama-server request looks at its connection once a second
    // (HTTP_POLLING_SECONDS), so the slot is free within about 1.1 s.
    CHECK(freed < 1500ms);
    client.join();
}

TEST_CASE("real: llama.cpp's web UI is served through the engine as the child serves it",
          "[real][webui]") {
    RealEngine real;
    // The UI is embedded gzip-compressed: llama-server answers 415 to a client that does not
    // accept gzip (every browser does).
    const std::vector<std::pair<std::string, std::string>> browser = {
        {"Accept-Encoding", "gzip, deflate, br"}, {"Accept", "text/html"}};
    auto direct_headers = browser;
    direct_headers.insert(direct_headers.end(), real.auth.begin(), real.auth.end());
    auto via_engine = http(real.port(), "GET", "/", "", browser);
    auto direct = http(real.child, "GET", "/", "", direct_headers);
    INFO("engine: " << via_engine.status << " " << via_engine.header("content-type")
                    << "; child: " << direct.status << " " << direct.header("content-type"));
    if (direct.status != 200 && !std::getenv("CI")) {
        // A llama-server of one's own may be built without its UI (LLAMA_BUILD_UI=OFF).
        WARN("this llama-server serves no web UI (" << direct.status << "); not checked");
        return;
    }
    // scripts/get-llama-server.sh builds llama-server with its UI.
    REQUIRE(direct.status == 200);
    CHECK(via_engine.status == 200);
    CHECK(via_engine.header("content-type") == direct.header("content-type"));
    CHECK(via_engine.header("content-type").find("text/html") == 0);
    CHECK(via_engine.header("content-encoding") == direct.header("content-encoding"));
    CHECK(via_engine.body == direct.body);
    CHECK(via_engine.body.size() > 1000);
}
