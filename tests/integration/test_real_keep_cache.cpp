// keep_cache (issue 12, point 5) with the real llama-server: a conversation's KV cache survives
// the engine's own stops (ttl, admin restart, swap, graceful shutdown) and is never restored into
// a child that differs (a reload that changed ctx_size), nor kept past cache_max_mb, nor after a
// crash. Measured with llama-server's own timings.prompt_n: the tokens a request had to process.
// No ';' in test names (see test_real_many_models.cpp).
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

// About 440 tokens of the tiny model's vocabulary; the follow-up adds a few.
std::string conversation(int repeats = 40) {
    std::string text;
    for (int i = 0; i < repeats; ++i) text += "the quick brown fox jumps over the lazy dog ";
    return text;
}
const std::string kMore = "and then a few more words";

std::string model_lines(const std::string& name, const std::string& extra) {
    const std::string p = "models." + name + ".";
    return real_named_model_config(
        name, p + "llama_server.ctx_size = 4096\n" + p + "llama_server.threads = 1\n" + p +
                  "llama_server.parallel = 1\n" + p + "restart.initial_delay = 0.1\n" + extra);
}

// The tokens llama-server processed for `prompt` (the rest came from its cache).
long long prompt_n(uint16_t port, const std::string& model, const std::string& prompt) {
    json body = {{"model", model},
                 {"prompt", prompt},
                 {"n_predict", 4},
                 {"temperature", 0},
                 {"cache_prompt", true}};
    auto r = http(port, "POST", "/completion", body.dump(), {}, 60s);
    INFO(r.status << " " << r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body)["timings"]["prompt_n"].get<long long>();
}

std::string state(uint16_t port, const std::string& model) {
    return admin_model(port, model)["state"];
}

int pid(uint16_t port, const std::string& model) {
    return admin_model(port, model)["pid"];
}

// The model is ready again, with another child than `old_pid`.
bool wait_new_child(uint16_t port, const std::string& model, int old_pid) {
    return wait_until(
        [&] {
            auto m = admin_model(port, model);
            return m["state"] == "ready" && m["pid"] != old_pid;
        },
        30s, 20ms);
}

// The whole prompt, or nearly: nothing came from a cache.
constexpr long long kWhole = 400;
// Only the follow-up's new tokens (and the one llama-server always re-evaluates).
constexpr long long kNewOnly = 20;

}  // namespace

TEST_CASE("keep_cache: after a ttl unload the follow-up processes only its new tokens",
          "[real][keep_cache]") {
    for (bool keep : {true, false}) {
        DYNAMIC_SECTION("keep_cache = " << keep) {
            TempDir cache;
            Engine engine("server.cache_dir = " + cache.path() + "\n" +
                          model_lines("tiny", std::string("models.tiny.ttl = 1\n") +
                                                  "models.tiny.keep_cache = " +
                                                  (keep ? "true" : "false") + "\n"));
            REQUIRE(engine.wait_health(200, 60s));
            const long long first = prompt_n(engine.port(), "tiny", conversation());
            CHECK(first >= kWhole);
            REQUIRE(wait_until([&] { return state(engine.port(), "tiny") == "stopped"; }, 20s));
            const long long follow_up = prompt_n(engine.port(), "tiny", conversation() + kMore);
            std::cout << "keep_cache=" << keep << ": first request prompt_n=" << first
                      << ", follow-up after a ttl unload prompt_n=" << follow_up << std::endl;
            if (keep) {
                CHECK(engine.log_contains("keep_cache: saved 1 slot(s)"));
                CHECK(engine.log_contains("keep_cache: restored 1 slot(s)"));
                CHECK(follow_up <= kNewOnly);
            } else {
                CHECK_FALSE(engine.log_contains("keep_cache"));
                CHECK(follow_up >= kWhole);
            }
        }
    }
}

TEST_CASE("keep_cache: an admin restart and a graceful shutdown keep the conversation",
          "[real][keep_cache]") {
    TempDir cache;
    const std::string config = "server.cache_dir = " + cache.path() + "\n" +
                               model_lines("tiny", "models.tiny.keep_cache = true\n");
    {
        Engine engine(config);
        REQUIRE(engine.wait_health(200, 60s));
        CHECK(prompt_n(engine.port(), "tiny", conversation()) >= kWhole);
        const int old_pid = pid(engine.port(), "tiny");
        auto r = http(engine.port(), "POST", "/admin/models/tiny/restart");
        REQUIRE(r.status == 202);  // accepted: the restart runs on
        REQUIRE(wait_new_child(engine.port(), "tiny", old_pid));
        CHECK(prompt_n(engine.port(), "tiny", conversation() + kMore) <= kNewOnly);
        CHECK(engine.stop(SIGTERM) == 0);
        CHECK(engine.log_count("keep_cache: saved 1 slot(s)") == 2);
    }
    // A new engine on the same cache directory: the conversation is there.
    Engine engine(config);
    REQUIRE(engine.wait_health(200, 60s));
    REQUIRE(engine.wait_log("keep_cache: restored 1 slot(s)", 10s));
    CHECK(prompt_n(engine.port(), "tiny", conversation() + kMore + " still") <= kNewOnly);
}

TEST_CASE("keep_cache: a swap under max_running keeps both conversations", "[real][keep_cache]") {
    TempDir cache;
    Engine engine("server.cache_dir = " + cache.path() + "\nserver.max_running = 1\n" +
                  model_lines("tiny", "models.tiny.keep_cache = true\n") +
                  model_lines("tiny2", "models.tiny2.keep_cache = true\n") +
                  "server.default_model = tiny\n");
    REQUIRE(engine.wait_health(200, 60s));
    const std::string other = conversation(30) + "a different story ";
    CHECK(prompt_n(engine.port(), "tiny", conversation()) >= kWhole);
    CHECK(prompt_n(engine.port(), "tiny2", other) >= 300);  // tiny makes room, saved
    CHECK(prompt_n(engine.port(), "tiny", conversation() + kMore) <= kNewOnly);
    CHECK(prompt_n(engine.port(), "tiny2", other + kMore) <= kNewOnly);
}

TEST_CASE("keep_cache: a reload that changed only the engine's keys restores the cache",
          "[real][keep_cache][reload]") {
    TempDir cache;
    Engine engine(
        "server.cache_dir = " + cache.path() + "\n" +
        model_lines("tiny", "models.tiny.keep_cache = true\nmodels.tiny.queue_timeout = 30\n"));
    REQUIRE(engine.wait_health(200, 60s));
    CHECK(prompt_n(engine.port(), "tiny", conversation()) >= kWhole);
    const int old_pid = pid(engine.port(), "tiny");
    rewrite(engine.config_path(), "models.tiny.queue_timeout = 30\n",
            "models.tiny.queue_timeout = 20\n");
    engine.signal(SIGHUP);
    REQUIRE(engine.wait_log("reload: model tiny: changed", 15s));
    REQUIRE(wait_new_child(engine.port(), "tiny", old_pid));
    CHECK(engine.log_contains("keep_cache: restored 1 slot(s)"));
    CHECK(prompt_n(engine.port(), "tiny", conversation() + kMore) <= kNewOnly);
}

TEST_CASE("keep_cache: a reload that changed ctx_size does not restore the cache",
          "[real][keep_cache][reload]") {
    TempDir cache;
    Engine engine("server.cache_dir = " + cache.path() + "\n" +
                  model_lines("tiny", "models.tiny.keep_cache = true\n"));
    REQUIRE(engine.wait_health(200, 60s));
    CHECK(prompt_n(engine.port(), "tiny", conversation()) >= kWhole);
    const int old_pid = pid(engine.port(), "tiny");
    rewrite(engine.config_path(), "models.tiny.llama_server.ctx_size = 4096\n",
            "models.tiny.llama_server.ctx_size = 2048\n");
    engine.signal(SIGHUP);
    REQUIRE(engine.wait_log("reload: model tiny: changed", 15s));
    REQUIRE(wait_new_child(engine.port(), "tiny", old_pid));
    CHECK(engine.log_contains("keep_cache: saved 1 slot(s)"));
    CHECK(engine.log_contains("keep_cache: not restoring the cache saved at"));
    CHECK(engine.log_contains("other llama-server arguments"));
    CHECK_FALSE(engine.log_contains("keep_cache: restored"));
    CHECK(prompt_n(engine.port(), "tiny", conversation() + kMore) >= kWhole);
}

TEST_CASE("keep_cache: a crash loses the cache and nothing else", "[real][keep_cache]") {
    TempDir cache;
    Engine engine("server.cache_dir = " + cache.path() + "\n" +
                  model_lines("tiny", "models.tiny.keep_cache = true\nmodels.tiny.ttl = 2\n"));
    REQUIRE(engine.wait_health(200, 60s));
    CHECK(prompt_n(engine.port(), "tiny", conversation()) >= kWhole);
    REQUIRE(wait_until([&] { return state(engine.port(), "tiny") == "stopped"; }, 20s));
    CHECK(prompt_n(engine.port(), "tiny", conversation() + kMore) <= kNewOnly);  // restored
    // Killed within its ttl: no save. The restore consumed the last save, so the next child
    // starts empty instead of with that older state.
    const int old_pid = pid(engine.port(), "tiny");
    REQUIRE(kill(old_pid, SIGKILL) == 0);
    REQUIRE(wait_new_child(engine.port(), "tiny", old_pid));
    CHECK(engine.log_count("keep_cache: saved") == 1);
    CHECK(engine.log_count("keep_cache: restored") == 1);
    CHECK(prompt_n(engine.port(), "tiny", conversation() + kMore + " again") >= kWhole);
}

TEST_CASE("keep_cache: a save larger than cache_max_mb is dropped, not restored",
          "[real][keep_cache]") {
    TempDir cache;
    // About 3000 tokens: some 1.6 MB of the tiny model's KV cache, over a 1 MB bound.
    Engine engine("server.cache_dir = " + cache.path() + "\n" +
                  model_lines("tiny",
                              "models.tiny.keep_cache = true\nmodels.tiny.ttl = 1\n"
                              "models.tiny.cache_max_mb = 1\n"));
    REQUIRE(engine.wait_health(200, 60s));
    const std::string big = conversation(270);
    CHECK(prompt_n(engine.port(), "tiny", big) >= 2500);
    REQUIRE(wait_until([&] { return state(engine.port(), "tiny") == "stopped"; }, 20s));
    CHECK(engine.log_contains("keep_cache: saved 1 slot(s)"));
    CHECK(engine.log_contains("over cache_max_mb (1 MB)"));
    CHECK(prompt_n(engine.port(), "tiny", big + kMore) >= 2500);
    CHECK_FALSE(engine.log_contains("keep_cache: restored"));
}
