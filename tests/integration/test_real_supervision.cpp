// Supervision against the real llama-server: what LLAMA-SERVER.md's signal table warns about.
#include <signal.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

// A raw-prompt generation of a few seconds (the tiny model makes ~1000 tokens/s on 2 cores).
// Its 256 byte tokens are banned: random bytes form invalid UTF-8, which llama-server's output
// parser rejects with a 500 ("does not match the expected ... format") mid-answer.
std::string long_generation(bool streamed, int tokens = 3000) {
    json body = {{"prompt", "Once upon a time"},
                 {"n_predict", tokens},
                 {"ignore_eos", true},
                 {"stream", streamed}};
    json bias = json::array();
    for (int token = 3; token < 259; ++token) bias.push_back({token, false});
    body["logit_bias"] = bias;
    return body.dump();
}
const std::string kLongStream = long_generation(true);
const std::string kLongAnswer = long_generation(false);
// About a second: short enough to finish inside the drain even on a loaded machine.
const std::string kShortStream = long_generation(true, 800);

bool is_last_completion_event(const std::string& event) {
    if (event.rfind("data: {", 0) != 0) return false;
    auto chunk = json::parse(event.substr(6));
    return chunk.value("stop", false);
}

std::unique_ptr<Engine> real_engine(const std::string& extra = "") {
    auto engine =
        std::make_unique<Engine>(real_model_config("models.tiny.llama_server.ctx_size = 4096\n"
                                                   "models.tiny.llama_server.parallel = 2\n"
                                                   "models.tiny.restart.initial_delay = 0.1\n" +
                                                   extra));
    REQUIRE(engine->wait_health(200, 60s));
    return engine;
}

}  // namespace

TEST_CASE("real: a killed llama-server is restarted and serves again", "[real][supervision]") {
    auto engine = real_engine();
    pid_t first = only_child(*engine);
    kill_child(first, SIGKILL);
    REQUIRE(engine->wait_log("killed by signal 9 (SIGKILL)", 5s));
    REQUIRE(engine->wait_log("-> backoff", 5s));
    REQUIRE(engine->wait_health(200, 30s));
    CHECK(only_child(*engine) != first);
    auto answer = http(engine->port(), "POST", "/completion", long_generation(false, 4));
    CHECK(answer.status == 200);
}

TEST_CASE("real: /health keeps answering while llama-server generates", "[real][liveness]") {
    // Liveness checked every 100 ms with a 1 s timeout; one failure would restart the child.
    auto engine = real_engine(
        "models.tiny.liveness.interval = 0.1\n"
        "models.tiny.liveness.timeout = 1\n"
        "models.tiny.liveness.failures = 1\n");
    pid_t child = only_child(*engine);
    REQUIRE(child > 0);
    auto answer = http(engine->port(), "POST", "/completion", kLongAnswer, {}, 60s);
    CHECK(answer.status == 200);
    CHECK_FALSE(engine->log_contains("liveness probe failed"));
    CHECK(only_child(*engine) == child);
}

TEST_CASE("real: liveness.generate keeps a healthy llama-server ready", "[real][liveness]") {
    // A one-token generation every 0.2 s; a single failed one would restart the child.
    auto engine = real_engine(
        "models.tiny.liveness.interval = 0.2\n"
        "models.tiny.liveness.timeout = 5\n"
        "models.tiny.liveness.failures = 1\n"
        "models.tiny.liveness.generate = true\n"
        "models.tiny.llama_server.args = --metrics\n");
    pid_t child = only_child(*engine);
    REQUIRE(child > 0);
    uint16_t direct = child_port(*engine);
    const std::string key = child_api_key(child);  // the child's own secret, from its environ
    const std::string predicted = "llamacpp:tokens_predicted_total";
    long before = llama_metric(direct, predicted, key);
    REQUIRE(before >= 0);
    // The probes do generate: llama-server counts their tokens (one each).
    CHECK(
        wait_until([&] { return llama_metric(direct, predicted, key) >= before + 5; }, 20s, 100ms));
    // A client's generation still gets through between the probes.
    CHECK(http(engine->port(), "POST", "/completion", long_generation(false, 16)).status == 200);
    auto model = admin_model(engine->port(), "tiny");
    CHECK(model["state"] == "ready");
    CHECK(model["restarts"] == 0);
    CHECK(model["starts"] == 1);
    CHECK_FALSE(engine->log_contains("liveness probe failed"));
    CHECK(only_child(*engine) == child);
}

TEST_CASE("real: SIGTERM with a stream in flight: it finishes within the drain, exit 0",
          "[real][drain]") {
    auto engine = real_engine();
    pid_t child = only_child(*engine);
    REQUIRE(child > 0);
    StreamResult result;
    Flag started;
    Background client([&] {
        result = stream(engine->port(), "/completion", kShortStream, 60s, 0,
                        [&](size_t) { started.raise(); });
    });
    REQUIRE(started.wait(30s));
    engine->signal(SIGTERM);
    CHECK(engine->wait_exit(40s) == 0);
    client.join();
    REQUIRE_FALSE(result.events.empty());
    CHECK(is_last_completion_event(result.events.back()));
    CHECK(wait_all_gone({child}, 1s));
}

TEST_CASE("real: a stream longer than the drain ends with an error event, exit 0, no child",
          "[real][drain]") {
    // About 1 SIGTERM in 30 deadlocks llama-server mid-generation: SIGKILL follows stop_timeout.
    auto engine = real_engine("server.drain_timeout = 0.5\nmodels.tiny.stop_timeout = 2\n");
    pid_t child = only_child(*engine);
    REQUIRE(child > 0);
    StreamResult result;
    Flag started;
    Background client([&] {
        result = stream(engine->port(), "/completion", kLongStream, 60s, 0,
                        [&](size_t) { started.raise(); });
    });
    REQUIRE(started.wait(30s));
    auto start = Clock::now();
    engine->signal(SIGTERM);
    CHECK(engine->wait_exit(20s) == 0);
    // llama-server would hold this stream until its next SSE ping (30 s): the engine must not.
    CHECK(Clock::now() - start < 10s);
    client.join();
    REQUIRE_FALSE(result.events.empty());
    CHECK(result.events.back().rfind("data: {\"error\"", 0) == 0);
    CHECK(wait_all_gone({child}, 1s));
}

TEST_CASE("real: SIGTERM with a non-streaming request in flight does not hang the stop",
          "[real][drain]") {
    // llama-server finishes a non-streaming generation before it exits, even with the engine's
    // connection closed: the stop timeout must escalate to SIGKILL.
    auto engine = real_engine(
        "server.drain_timeout = 0.5\nmodels.tiny.stop_timeout = 1\n"
        "models.tiny.llama_server.args = --metrics\n");
    pid_t child = only_child(*engine);
    REQUIRE(child > 0);
    uint16_t direct = child_port(*engine);
    const std::string key = child_api_key(child);  // the child's own secret, from its environ
    REQUIRE(requests_processing(direct, key) == 0);
    HttpResult answer;
    Background client(
        [&] { answer = http(engine->port(), "POST", "/completion", kLongAnswer, {}, 60s); });
    // The generation has begun: llama-server counts it among the requests it processes.
    REQUIRE(wait_until([&] { return requests_processing(direct, key) == 1; }, 30s));
    auto start = Clock::now();
    engine->signal(SIGTERM);
    CHECK(engine->wait_exit(20s) == 0);
    CHECK(Clock::now() - start < 10s);
    client.join();
    // Either it finished in time, or the client got a clean OpenAI error.
    if (answer.status != 200) {
        CHECK(answer.status == 502);
        CHECK(json::parse(answer.body)["error"].is_object());
    }
    CHECK(wait_all_gone({child}, 1s));
}

TEST_CASE("real: kill -9 of the engine leaves no llama-server behind", "[real][orphans]") {
    auto engine = real_engine();
    pid_t child = only_child(*engine);
    REQUIRE(child > 0);
    engine->stop(SIGKILL);
    CHECK(wait_all_gone({child}, 1s));
}

TEST_CASE("real: a file that is not GGUF fails after the load-error retries",
          "[real][supervision]") {
    const RealParts& parts = real_parts();
    TempDir files;
    std::string bogus = files.write("bogus.gguf", "this is not a gguf file");
    Engine engine(
        "models.tiny.backend = llama_server\n"
        "models.tiny.llama_server.binary = " +
        parts.llama_server +
        "\n"
        "models.tiny.llama_server.model = " +
        bogus +
        "\n"
        "models.tiny.restart.initial_delay = 0.05\n");
    REQUIRE(engine.wait_log("-> failed", 20s));
    CHECK(engine.log_contains("could not load 3 times"));
    auto answer = http(engine.port(), "POST", "/v1/completions", R"({"prompt":"hi"})");
    CHECK(answer.status == 503);
    CHECK(json::parse(answer.body)["error"]["message"].get<std::string>().find(
              "model 'tiny' has failed") != std::string::npos);
}

TEST_CASE("real: 20 llama-server kills in a row under light load give only clean answers",
          "[real][supervision]") {
    auto engine = real_engine(
        "models.tiny.restart.initial_delay = 0.05\n"
        "models.tiny.restart.max_delay = 0.2\n"
        "models.tiny.restart.max_retries = 100\n"
        "models.tiny.queue_timeout = 20\n");
    const std::string answer_body = long_generation(false, 16);
    const std::string stream_body = long_generation(true, 32);
    std::atomic<bool> done{false};
    std::atomic<int> answers{0}, served{0}, unclean{0};
    std::string last_unclean;
    std::mutex unclean_mutex;
    auto note_unclean = [&](const std::string& what) {
        ++unclean;
        std::lock_guard<std::mutex> lock(unclean_mutex);
        last_unclean = what;
    };
    std::vector<std::thread> clients;
    // Stops the clients however the test ends (a failed REQUIRE must not leave them running).
    struct Join {
        std::atomic<bool>& done;
        std::vector<std::thread>& threads;
        ~Join() {
            done = true;
            for (auto& t : threads) {
                if (t.joinable()) t.join();
            }
        }
    } join{done, clients};
    clients.emplace_back([&] {
        while (!done) {
            try {
                auto r = http(engine->port(), "POST", "/completion", answer_body, {}, 30s);
                ++answers;
                if (r.status == 200) ++served;
                bool clean = r.status == 200 || ((r.status == 502 || r.status == 503) &&
                                                 json::parse(r.body)["error"].is_object());
                if (!clean) note_unclean(std::to_string(r.status) + " " + r.body);
            } catch (const std::exception& e) {
                note_unclean(e.what());
            }
        }
    });
    clients.emplace_back([&] {
        while (!done) {
            try {
                auto r = stream(engine->port(), "/completion", stream_body, 30s);
                ++answers;
                if (r.status == 200 && !r.events.empty() &&
                    is_last_completion_event(r.events.back()))
                    ++served;
                bool clean = r.status == 502 || r.status == 503 ||
                             (r.status == 200 && !r.events.empty() &&
                              (is_last_completion_event(r.events.back()) ||
                               r.events.back().rfind("data: {\"error\"", 0) == 0));
                if (!clean) {
                    note_unclean("stream " + std::to_string(r.status) + " " +
                                 (r.events.empty() ? "" : r.events.back()));
                }
            } catch (const std::exception& e) {
                note_unclean(e.what());
            }
        }
    });
    pid_t child = only_child(*engine);
    for (int kills = 0; kills < 20; ++kills) {
        // Let some requests run: the child has served one more in full.
        int before = served;
        REQUIRE(wait_until([&] { return served > before; }, 30s));
        kill_child(child, SIGKILL);
        // Wait for the replacement to be up and serving.
        pid_t next = 0;
        REQUIRE(wait_until(
            [&] {
                next = only_child(*engine);
                return next != 0 && next != child &&
                       engine->log_contains("child pid " + std::to_string(next) + " started");
            },
            30s));
        REQUIRE(engine->wait_health(200, 30s));
        child = next;
    }
    done = true;
    for (auto& t : clients) t.join();
    INFO(answers << " answers, " << unclean << " unclean; last: " << last_unclean);
    CHECK(answers > 20);
    CHECK(unclean == 0);
    auto model = admin_model(engine->port(), "tiny");
    CHECK(model["restarts"] == 20);
    CHECK(model["starts"] == 21);
    CHECK(model["last_exit"] == "killed by signal 9 (SIGKILL)");
    CHECK(engine->stop(SIGTERM) == 0);
}
