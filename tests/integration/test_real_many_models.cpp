// Many models in one engine (issue 8) with the real llama-server: the tiny model under two names,
// "tiny" and "tiny2" (one GGUF, two children). What test_fake_many_models.cpp shows with the
// fake, here with the child that users run: routing, loads on demand, ttl, swaps, the queue,
// per-model listeners, reload, a large body, and a child killed before it answered.
// No ';' in test names: catch_discover_tests splits a name there, and ctest would run halves that
// match nothing (see -w NoTests in CMakeLists.txt).
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

// One model's lines: the tiny GGUF, one thread (two children on 2 cores, maybe beside a build:
// llama.cpp's spinning threads slow each other down by orders of magnitude), a quick restart.
std::string tiny_config(const std::string& name) {
    const std::string p = "models." + name + ".";
    return real_named_model_config(name, p + "llama_server.ctx_size = 4096\n" + p +
                                             "llama_server.threads = 1\n" + p +
                                             "restart.initial_delay = 0.1\n");
}

// A chat request of exactly `tokens` tokens (the tiny model makes about 1000 a second with one
// thread). Byte tokens are banned: random bytes form invalid UTF-8, which llama-server's output
// parser answers with a 500.
std::string chat(const std::string& model, int tokens, bool stream = false) {
    json body = {{"model", model},
                 {"stream", stream},
                 {"max_tokens", tokens},
                 {"temperature", 0},
                 {"ignore_eos", true},
                 {"messages", json::array({{{"role", "user"}, {"content", "hello"}}})}};
    body["logit_bias"] = banned_byte_tokens();
    return body.dump();
}

long long ms_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

// The engine with "tiny" and "tiny2", plus `extra` config lines.
struct TwoTiny {
    std::unique_ptr<Engine> engine;
    explicit TwoTiny(const std::string& extra) {
        engine = std::make_unique<Engine>(tiny_config("tiny") + tiny_config("tiny2") + extra);
        REQUIRE(engine->wait_health(200, 60s));
    }
    uint16_t port() const { return engine->port(); }
    json admin(const std::string& name) const { return admin_model(port(), name); }
    std::string state(const std::string& name) const { return admin(name)["state"]; }
    int pid(const std::string& name) const { return admin(name)["pid"]; }
    bool wait_state(const std::string& name, const std::string& state,
                    std::chrono::milliseconds timeout = 30s) const {
        return wait_until([&] { return this->state(name) == state; }, timeout, 20ms);
    }
    uint64_t swaps() const {
        return json::parse(http(port(), "GET", "/admin/models").body)["swaps"].get<uint64_t>();
    }
    // A short chat for `model` on `on` (the engine's port by default); REQUIREs a 200 and
    // returns the "model" of the answer: the child's --alias, which is the configured name.
    std::string answered_by(const std::string& model, uint16_t on = 0) const {
        auto r = http(on ? on : port(), "POST", "/v1/chat/completions", chat(model, 4), {}, 60s);
        INFO(model << ": " << r.status << " " << r.body);
        REQUIRE(r.status == 200);
        return json::parse(r.body)["model"];
    }
};

bool is_data(const std::string& event) {
    return event.rfind("data: ", 0) == 0;
}

}  // namespace

TEST_CASE(
    "real many models: routed by name and alias, answers name the model, /v1/models lists both",
    "[real][models]") {
    TwoTiny m(
        "models.tiny.autostart = true\nmodels.tiny2.autostart = true\n"
        "models.tiny2.aliases = gpt-4o-mini, Qwen/Qwen2.5:0.5b\n");
    REQUIRE(m.wait_state("tiny", "ready"));
    REQUIRE(m.wait_state("tiny2", "ready"));
    CHECK(m.pid("tiny") != m.pid("tiny2"));
    // The answer's "model" is what the child was told to call itself: the configured name, not
    // the GGUF's path (which llama-server says without --alias).
    for (const auto& [name, child] :
         std::vector<std::pair<std::string, std::string>>{{"tiny", "tiny"},
                                                          {"tiny2", "tiny2"},
                                                          {"gpt-4o-mini", "tiny2"},
                                                          {"Qwen/Qwen2.5:0.5b", "tiny2"}}) {
        INFO(name);
        CHECK(m.answered_by(name) == child);
    }
    auto unknown = http(m.port(), "POST", "/v1/chat/completions", chat("tiny3", 4));
    CHECK(unknown.status == 404);
    CHECK(json::parse(unknown.body)["error"]["code"] == "model_not_found");
    // A stream is routed the same way, and its chunks name the model too.
    auto streamed = stream(m.port(), "/v1/chat/completions", chat("gpt-4o-mini", 4, true), 60s);
    REQUIRE(streamed.status == 200);
    CHECK(streamed.complete);
    REQUIRE(streamed.events.size() >= 2);
    CHECK(streamed.events.back() == "data: [DONE]");
    CHECK(json::parse(streamed.events.front().substr(6))["model"] == "tiny2");

    auto list = json::parse(http(m.port(), "GET", "/v1/models").body);
    INFO(list.dump());
    CHECK(list["object"] == "list");
    std::map<std::string, json> by_id;
    for (const auto& entry : list["data"]) by_id[entry["id"]] = entry;
    REQUIRE(by_id.size() == 4);
    CHECK(by_id.count("tiny"));
    CHECK(by_id.count("tiny2"));
    CHECK(by_id["tiny"]["status"] == "ready");
    CHECK(by_id["tiny2"]["status"] == "ready");
    CHECK(by_id["gpt-4o-mini"]["alias_of"] == "tiny2");
    CHECK(by_id["Qwen/Qwen2.5:0.5b"]["alias_of"] == "tiny2");
}

TEST_CASE("real many models: a stopped model is started by a stream, time to its first token",
          "[real][models][lifecycle]") {
    TwoTiny m("server.default_model = tiny\nmodels.tiny2.autostart = false\n");
    REQUIRE(m.wait_state("tiny", "ready"));
    REQUIRE(m.state("tiny2") == "stopped");
    CHECK(m.pid("tiny2") == 0);

    const auto sent = Clock::now();
    auto cold = stream(m.port(), "/v1/chat/completions", chat("tiny2", 4, true), 60s);
    REQUIRE(cold.status == 200);
    INFO("events: " << json(cold.events).dump());
    CHECK(cold.complete);
    REQUIRE_FALSE(cold.events.empty());
    CHECK(cold.events.back() == "data: [DONE]");
    size_t first_data = 0;
    while (first_data < cold.events.size() && !is_data(cold.events[first_data])) ++first_data;
    REQUIRE(first_data < cold.events.size());
    const long long cold_ms = ms_between(sent, cold.arrived[first_data]);

    // The same with the model loaded, for comparison.
    const auto warm_sent = Clock::now();
    auto warm = stream(m.port(), "/v1/chat/completions", chat("tiny2", 4, true), 60s);
    REQUIRE(warm.status == 200);
    REQUIRE_FALSE(warm.events.empty());
    CHECK(is_data(warm.events.front()));  // no load, no comment
    const long long warm_ms = ms_between(warm_sent, warm.arrived.front());
    std::cout << "first token after a stopped model: " << cold_ms
              << " ms (with the model loaded: " << warm_ms << " ms)" << std::endl;

    // The engine sent the stream's head and a comment the moment the request began to wait; a
    // load that took no time at all would have left nothing to wait for.
    if (cold_ms > warm_ms + 20) {
        CHECK(cold.events.front().rfind(": loading tiny2 ", 0) == 0);
        for (size_t i = first_data; i < cold.events.size(); ++i) CHECK(is_data(cold.events[i]));
    }
    CHECK(m.state("tiny2") == "ready");
    CHECK(m.admin("tiny2")["starts"] == 1);
    CHECK(m.state("tiny") == "ready");  // no max_running: both run
}

TEST_CASE("real many models: ttl stops an idle model, the next request starts it again",
          "[real][models][lifecycle]") {
    // ttl 2 s: on a loaded machine, seconds can pass between two of the test's own steps.
    TwoTiny m("server.default_model = tiny\nmodels.tiny2.autostart = true\nmodels.tiny2.ttl = 2\n");
    CHECK(m.answered_by("tiny2") == "tiny2");  // (started again by it if the ttl was quicker)
    const int first_pid = m.pid("tiny2");
    REQUIRE(first_pid > 0);
    const auto idle_from = Clock::now();
    REQUIRE(m.wait_state("tiny2", "stopped", 15s));
    const long long stopped_after = ms_between(idle_from, Clock::now());
    std::cout << "ttl = 2 s: stopped " << stopped_after << " ms after the last answer" << std::endl;
    CHECK(stopped_after >= 1500);  // not at once (the janitor looks every 0.2 s)
    CHECK(m.engine->log_contains("idle for 2 s (ttl)"));
    CHECK(wait_all_gone({first_pid}, 5s));
    CHECK(m.state("tiny") == "ready");  // no ttl: never stopped

    CHECK(m.answered_by("tiny2") == "tiny2");
    auto model = m.admin("tiny2");
    CHECK(model["starts"] >= 2);
    CHECK(model["restarts"] == 0);  // a ttl stop is no crash
    CHECK(model["pid"] != first_pid);
}

TEST_CASE("real many models: max_running = 1: a swap waits for the stream of the other model",
          "[real][models][swap]") {
    TwoTiny m("server.default_model = tiny\nserver.max_running = 1\n");
    REQUIRE(m.wait_state("tiny", "ready"));
    REQUIRE(m.state("tiny2") == "stopped");
    // About 0.8 s of tokens on an idle machine; the swap is asked for at its first token.
    Flag streaming;
    StreamResult tiny_stream;
    Clock::time_point tiny_done;
    Background tiny([&] {
        tiny_stream = stream(m.port(), "/v1/chat/completions", chat("tiny", 800, true), 120s, 0,
                             [&](size_t) { streaming.raise(); });
        tiny_done = Clock::now();
    });
    REQUIRE(streaming.wait(60s));
    auto tiny2 = http(m.port(), "POST", "/v1/chat/completions", chat("tiny2", 4), {}, 120s);
    const auto tiny2_done = Clock::now();
    tiny.join();
    INFO(tiny2.body);
    REQUIRE(tiny2.status == 200);
    CHECK(json::parse(tiny2.body)["model"] == "tiny2");
    // Never cut to make room: the whole stream, then the swap.
    CHECK(tiny_stream.complete);
    REQUIRE_FALSE(tiny_stream.events.empty());
    CHECK(tiny_stream.events.back() == "data: [DONE]");
    CHECK(tiny_stream.events.size() > 800);
    CHECK(tiny_done < tiny2_done);
    std::cout << "swap: tiny2 answered " << ms_between(tiny_done, tiny2_done)
              << " ms after tiny's stream ended" << std::endl;
    CHECK(m.state("tiny") == "stopped");
    CHECK(m.state("tiny2") == "ready");
    CHECK(m.engine->log_contains("making room for model 'tiny2'"));
    CHECK(m.swaps() == 1);
}

TEST_CASE("real many models: past max_concurrent and max_queued, 429", "[real][models][queue]") {
    TwoTiny m(
        "server.default_model = tiny\nmodels.tiny2.autostart = true\n"
        "models.tiny2.max_concurrent = 1\nmodels.tiny2.max_queued = 1\n"
        "models.tiny2.queue_timeout = 120\n");
    REQUIRE(m.wait_state("tiny2", "ready"));
    // About 2 s of tokens hold tiny2's one slot.
    Flag streaming;
    StreamResult held;
    Background holder([&] {
        held = stream(m.port(), "/v1/chat/completions", chat("tiny2", 2000, true), 150s, 0,
                      [&](size_t) { streaming.raise(); });
    });
    REQUIRE(streaming.wait(60s));
    REQUIRE(m.admin("tiny2")["in_flight"] == 1);
    HttpResult queued;
    Background waiter([&] {
        queued = http(m.port(), "POST", "/v1/chat/completions", chat("tiny2", 4), {}, 150s);
    });
    REQUIRE(wait_until([&] { return m.admin("tiny2")["queued"] == 1; }, 10s));
    auto refused = http(m.port(), "POST", "/v1/chat/completions", chat("tiny2", 4));
    const bool still_streaming = !holder.done().raised();
    INFO(refused.body);
    CHECK(refused.status == 429);
    CHECK_FALSE(refused.header("retry-after").empty());
    CHECK(json::parse(refused.body)["error"]["code"] == "model_busy");
    CHECK(json::parse(refused.body)["error"]["message"].get<std::string>().find("max_concurrent") !=
          std::string::npos);
    CHECK(still_streaming);  // the slot was held all along
    // The other model is not held up by tiny2's queue.
    CHECK(m.answered_by("tiny") == "tiny");
    holder.join();
    waiter.join();
    CHECK(held.complete);
    REQUIRE_FALSE(held.events.empty());
    CHECK(held.events.back() == "data: [DONE]");
    CHECK(queued.status == 200);  // the queued one waited its turn
}

TEST_CASE("real many models: a per-model listener serves its model whatever the body names",
          "[real][models][listen]") {
    const uint16_t tiny2_port = free_port();
    TwoTiny m(
        "server.default_model = tiny\nmodels.tiny2.autostart = true\n"
        "models.tiny2.listen = 127.0.0.1:" +
        std::to_string(tiny2_port) + "\n");
    REQUIRE(m.wait_state("tiny2", "ready"));
    CHECK(m.answered_by("tiny", tiny2_port) == "tiny2");
    CHECK(m.answered_by("no-such-model", tiny2_port) == "tiny2");
    CHECK(m.answered_by("tiny2", tiny2_port) == "tiny2");
    auto list = json::parse(http(tiny2_port, "GET", "/v1/models").body);
    REQUIRE(list["data"].size() == 1);
    CHECK(list["data"][0]["id"] == "tiny2");
    CHECK(m.answered_by("tiny") == "tiny");  // server.listen routes as usual
}

TEST_CASE("real many models: reload restarts a changed model only, an invalid file changes nothing",
          "[real][models][reload]") {
    TwoTiny m("models.tiny.autostart = true\nmodels.tiny2.autostart = true\n");
    REQUIRE(m.wait_state("tiny", "ready"));
    REQUIRE(m.wait_state("tiny2", "ready"));
    const int tiny_pid = m.pid("tiny");
    const int old_tiny2_pid = m.pid("tiny2");
    const std::string path = m.engine->config_path();

    rewrite(path, "models.tiny2.llama_server.ctx_size = 4096\n",
            "models.tiny2.llama_server.ctx_size = 2048\n");
    const auto sighup = Clock::now();
    m.engine->signal(SIGHUP);
    REQUIRE(m.engine->wait_log("reload: model tiny2: changed", 15s));
    CHECK(m.engine->log_contains("reload: model tiny: unchanged"));
    REQUIRE(wait_until(
        [&] { return m.state("tiny2") == "ready" && m.pid("tiny2") != old_tiny2_pid; }, 30s, 20ms));
    std::cout << "reload: changed tiny2 ready again " << ms_between(sighup, Clock::now())
              << " ms after SIGHUP" << std::endl;
    const int new_tiny2_pid = m.pid("tiny2");
    CHECK(m.pid("tiny") == tiny_pid);
    CHECK(process_alive(tiny_pid));
    CHECK(wait_all_gone({old_tiny2_pid}, 5s));
    // The new child runs with the new setting.
    const auto argv = proc_strings(new_tiny2_pid, "cmdline");
    auto ctx = std::find(argv.begin(), argv.end(), "--ctx-size");
    REQUIRE(ctx != argv.end());
    REQUIRE(ctx + 1 != argv.end());
    CHECK(*(ctx + 1) == "2048");
    CHECK(m.answered_by("tiny2") == "tiny2");
    CHECK(m.answered_by("tiny") == "tiny");

    // An invalid file: refused whole, the culprit named, the running config serves on.
    rewrite(path, "models.tiny.autostart = true\n", "models.tiny.autostart = perhaps\n");
    auto refused = http(m.port(), "POST", "/admin/reload");
    INFO(refused.body);
    CHECK(refused.status == 400);
    auto errors = json::parse(refused.body)["errors"];
    REQUIRE(errors.size() >= 1);
    CHECK(errors[0].get<std::string>().find("models.tiny.autostart") != std::string::npos);
    CHECK(m.answered_by("tiny") == "tiny");
    CHECK(m.answered_by("tiny2") == "tiny2");
    CHECK(m.pid("tiny") == tiny_pid);
    CHECK(m.pid("tiny2") == new_tiny2_pid);
    CHECK(m.admin("tiny")["starts"] == 1);
}

TEST_CASE("real many models: an 8 MiB body is routed by a model field after the image",
          "[real][models][routing]") {
    // The default is tiny: a router that gave up before the late field would send it there.
    TwoTiny m("server.default_model = tiny\nmodels.tiny2.autostart = true\n");
    REQUIRE(m.wait_state("tiny", "ready"));
    REQUIRE(m.wait_state("tiny2", "ready"));
    const std::string image(8 << 20, 'A');
    const std::string body =
        R"({"messages":[{"role":"user","content":[{"type":"text","text":"what is it"},)"
        R"({"type":"image_url","image_url":{"url":"data:image/png;base64,)" +
        image + R"("}}]}],"max_tokens":4,"model":"tiny2"})";
    auto r = http(m.port(), "POST", "/v1/chat/completions", body,
                  {{"Content-Type", "application/json"}}, 120s);
    // This llama-server has no mmproj: it refuses the image. What matters is who refused it.
    INFO(r.status << " " << r.body.substr(0, 500));
    CHECK(r.status != 404);
    if (r.header("content-type").find("application/json") == 0 && !r.body.empty()) {
        auto answer = json::parse(r.body);
        // The child's own error: llama-server's codes are numbers, the engine's are words
        // ("model_not_found").
        if (answer.contains("error")) CHECK(answer["error"]["code"].is_number());
    }
    const std::string access = " tiny2 POST /v1/chat/completions " + std::to_string(r.status) + " ";
    REQUIRE(m.engine->wait_log(access, 5s));
    CHECK_FALSE(m.engine->log_contains(" tiny POST /v1/chat/completions "));
    // The whole body went in.
    const std::string log = m.engine->log();
    const size_t in = log.find("in=", log.find(access));
    REQUIRE(in != std::string::npos);
    CHECK(std::stoull(log.substr(in + 3)) == body.size());
}

TEST_CASE(
    "real many models: a child killed while it generates an answer (no byte sent) is "
    "replaced, the client gets a 200 from the next child",
    "[real][models][supervision]") {
    TwoTiny m("models.tiny.autostart = true\nmodels.tiny2.autostart = true\n");
    REQUIRE(m.wait_state("tiny", "ready"));
    REQUIRE(m.wait_state("tiny2", "ready"));
    const int victim = m.pid("tiny");
    REQUIRE(victim > 0);
    // About 1.5 s of tokens: llama-server sends a non-streaming answer only when it is complete.
    const size_t tasks_before = m.engine->log_count("processing task");
    HttpResult answer;
    Clock::time_point killed_at;
    Background client([&] {
        answer = http(m.port(), "POST", "/v1/chat/completions", chat("tiny", 1500), {}, 120s);
    });
    // The request reached the child: its slot took the task (the engine relays the child's log).
    REQUIRE(m.engine->wait_log_count("processing task", tasks_before + 1, 60s));
    REQUIRE_FALSE(client.done().raised());
    kill_child(victim, SIGKILL);
    killed_at = Clock::now();
    REQUIRE(client.done().wait(120s));
    client.join();
    std::cout << "killed child: answer " << ms_between(killed_at, Clock::now())
              << " ms after the kill" << std::endl;
    INFO(answer.status << " " << answer.body.substr(0, 500));
    CHECK(answer.status == 200);
    auto parsed = json::parse(answer.body);
    CHECK(parsed["model"] == "tiny");
    CHECK(parsed["usage"]["completion_tokens"] == 1500);
    CHECK(m.engine->log_contains("killed by signal 9"));
    CHECK(m.engine->log_contains("waiting for the next child to send it again"));
    auto model = m.admin("tiny");
    CHECK(model["restarts"] == 1);
    CHECK(model["starts"] == 2);
    CHECK(model["pid"] != victim);
    CHECK(m.admin("tiny2")["restarts"] == 0);  // the other model never noticed
}
