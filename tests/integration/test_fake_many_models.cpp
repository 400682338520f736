// Many models in one engine (issue 8), with the fake llama-server: routing by name, alias,
// ?model= and /upstream/<name>/; models started by their first request; ttl; max_running and
// swaps in turns; max_concurrent; per-model listeners; the admin API; reload.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "raw_http.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

std::string chat(const std::string& model, bool stream = false) {
    return json{{"model", model},
                {"stream", stream},
                {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}}
        .dump();
}

// Two fake-backed models, "a" and "b", plus `extra` config lines.
struct TwoModels {
    TempDir files;
    std::unique_ptr<Engine> engine;
    TwoModels(const std::string& a_args, const std::string& b_args, const std::string& extra) {
        std::string model = files.write("model.gguf", "not really a model");
        engine = std::make_unique<Engine>(fake_model_config("a", model, a_args) +
                                          fake_model_config("b", model, b_args) + extra);
    }
    uint16_t port() const { return engine->port(); }
    json admin(const std::string& name) const { return admin_model(port(), name); }
    std::string state(const std::string& name) const { return admin(name)["state"]; }
    bool wait_state(const std::string& name, const std::string& state,
                    std::chrono::milliseconds timeout = 15s) const {
        return wait_until([&] { return this->state(name) == state; }, timeout, 50ms);
    }
    uint64_t swaps() const {
        return json::parse(http(port(), "GET", "/admin/models").body)["swaps"].get<uint64_t>();
    }
    // Which model's child answered: the fake's /props says its --alias (the model's name).
    std::string props_of(const std::string& target, uint16_t on = 0) const {
        auto r = http(on ? on : port(), "GET", target);
        REQUIRE(r.status == 200);
        return json::parse(r.body)["model_alias"];
    }
};

// The request the child of `name` got last (the fake records it).
json last_request(uint16_t port, const std::string& name) {
    auto r = http(port, "GET", "/upstream/" + name + "/fake/last-request");
    REQUIRE(r.status == 200);
    return json::parse(r.body);
}

}  // namespace

TEST_CASE(
    "many models: routed by name, alias, ?model= and /upstream/<name>/, /v1/models lists "
    "all",
    "[fake][models]") {
    TwoModels m("--fake-load-ms 0", "--fake-load-ms 0",
                "models.a.aliases = gpt-4o-mini\n"
                "models.b.aliases = helper, Qwen/Qwen2.5:0.5b\n"
                "models.b.autostart = true\n"
                "server.default_model = a\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    // By the body's model, by alias (one with / and :), and by default.
    for (const auto& [name, child] :
         std::vector<std::pair<std::string, std::string>>{{"a", "a"},
                                                          {"b", "b"},
                                                          {"gpt-4o-mini", "a"},
                                                          {"helper", "b"},
                                                          {"Qwen/Qwen2.5:0.5b", "b"}}) {
        INFO(name);
        auto r = http(m.port(), "POST", "/v1/chat/completions", chat(name));
        CHECK(r.status == 200);
        CHECK(json::parse(base64_decode(last_request(m.port(), child)["body_base64"]))["model"] ==
              name);
    }
    // GET picks by ?model=, else the default.
    CHECK(m.props_of("/props?model=b") == "b");
    CHECK(m.props_of("/props?model=helper") == "b");
    CHECK(m.props_of("/props") == "a");
    // One child as is.
    CHECK(m.props_of("/upstream/b/props") == "b");
    CHECK(m.props_of("/upstream/a/props") == "a");
    CHECK(http(m.port(), "GET", "/upstream/nope/props").status == 404);
    auto unknown = http(m.port(), "POST", "/v1/chat/completions", chat("nope"));
    CHECK(unknown.status == 404);
    CHECK(json::parse(unknown.body)["error"]["code"] == "model_not_found");
    // Every model and alias, with its state.
    auto list = json::parse(http(m.port(), "GET", "/v1/models").body);
    CHECK(list["object"] == "list");
    std::map<std::string, json> by_id;
    for (const auto& entry : list["data"]) by_id[entry["id"]] = entry;
    REQUIRE(by_id.size() == 5);
    CHECK(by_id["a"]["status"] == "ready");
    CHECK(by_id["gpt-4o-mini"]["alias_of"] == "a");
    CHECK(by_id["helper"]["alias_of"] == "b");
    CHECK(by_id["b"]["object"] == "model");
}

TEST_CASE("many models: several models and no default: a request that names none is refused",
          "[fake][models]") {
    TwoModels m("--fake-load-ms 0", "--fake-load-ms 0", "");
    // With several models and no default, none autostarts.
    REQUIRE(m.engine->wait_health(200, 15s));
    CHECK(m.state("a") == "stopped");
    CHECK(m.state("b") == "stopped");
    auto r = http(m.port(), "POST", "/v1/chat/completions", R"({"messages":[]})");
    CHECK(r.status == 404);
    CHECK(json::parse(r.body)["error"]["message"].get<std::string>().find(
              "no default (server.default_model)") != std::string::npos);
}

TEST_CASE(
    "many models: a stopped model is started by its first request, a stream waiting for it "
    "gets progress comments",
    "[fake][models][lifecycle]") {
    TwoModels m("--fake-load-ms 0", "--fake-load-ms 2500", "server.default_model = a\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    CHECK(m.state("b") == "stopped");
    CHECK(m.admin("b")["pid"] == 0);
    // A plain request waits for the load with the stream.
    int plain = 0;
    Background waiting(
        [&] { plain = http(m.port(), "POST", "/v1/chat/completions", chat("b"), {}, 20s).status; });
    auto started = Clock::now();
    detail::RawResponse raw(m.port(), "POST", "/v1/chat/completions", chat("b", true),
                            {{"Content-Type", "application/json"}}, 20s);
    int status = 0;
    std::string reason;
    detail::Headers headers;
    REQUIRE(raw.read_head(status, reason, headers));
    CHECK(status == 200);
    CHECK(detail::find_header(headers, "content-type") == "text/event-stream");
    CHECK(Clock::now() - started < 2s);  // the head came at once, not after the load
    std::string body;
    bool complete = false;
    for (std::string piece; !(piece = raw.read_body_piece(complete)).empty();) body += piece;
    CHECK(complete);
    CHECK(body.find(": loading b ") != std::string::npos);
    CHECK(body.find("data: [DONE]") != std::string::npos);
    CHECK(body.find(": loading b ") < body.find("data: "));
    waiting.join();
    CHECK(plain == 200);
    CHECK(m.state("b") == "ready");
    CHECK(m.admin("b")["starts"] == 1);
}

TEST_CASE("many models: ttl stops an idle model, never one in flight, the next request starts it",
          "[fake][models][lifecycle]") {
    TwoModels m("--fake-load-ms 0",
                "--fake-load-ms 0 --fake-stream-events 15 --fake-stream-interval-ms 200",
                "server.default_model = a\nmodels.b.ttl = 1\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    // A 3 s stream outlives the 1 s ttl: idle counts from the end of the last request.
    auto result = stream(m.port(), "/v1/chat/completions", chat("b", true), 20s);
    CHECK(result.complete);
    CHECK(result.events.back() == "data: [DONE]");
    CHECK(m.state("b") == "ready");
    REQUIRE(m.wait_state("b", "stopped", 10s));
    CHECK(m.engine->log_contains("idle for 1 s (ttl)"));
    CHECK(m.state("a") == "ready");  // no ttl: never stopped
    CHECK(http(m.port(), "POST", "/v1/chat/completions", chat("b")).status == 200);
    CHECK(m.admin("b")["starts"] == 2);
}

TEST_CASE("many models: max_running = 1: a swap waits for the other model's stream to finish",
          "[fake][models][swap]") {
    TwoModels m("--fake-load-ms 0 --fake-stream-events 10 --fake-stream-interval-ms 200",
                "--fake-load-ms 0", "server.default_model = a\nserver.max_running = 1\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    Flag streaming;
    StreamResult a_stream;
    Clock::time_point a_done;
    Background a([&] {
        a_stream = stream(m.port(), "/v1/chat/completions", chat("a", true), 20s, 0,
                          [&](size_t) { streaming.raise(); });
        a_done = Clock::now();
    });
    REQUIRE(streaming.wait(10s));
    auto b = http(m.port(), "POST", "/v1/chat/completions", chat("b"), {}, 30s);
    auto b_done = Clock::now();
    a.join();
    CHECK(b.status == 200);
    CHECK(a_stream.complete);  // never cut to make room
    CHECK(a_stream.events.back() == "data: [DONE]");
    CHECK(a_done < b_done);
    CHECK(m.state("a") == "stopped");
    CHECK(m.engine->log_contains("making room for model 'b'"));
    CHECK(m.swaps() == 1);
}

TEST_CASE("many models: alternating requests under max_running = 1 swap in turns, not per request",
          "[fake][models][swap]") {
    TwoModels m("--fake-load-ms 0", "--fake-load-ms 0",
                "server.default_model = a\nserver.max_running = 1\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    constexpr int kClients = 4, kEach = 6;
    std::atomic<int> ok{0};
    {
        std::vector<std::unique_ptr<Background>> clients;
        for (int c = 0; c < kClients; ++c) {
            clients.push_back(std::make_unique<Background>([&] {
                for (int i = 0; i < kEach; ++i) {
                    auto r = http(m.port(), "POST", "/v1/chat/completions", chat(i % 2 ? "b" : "a"),
                                  {}, 60s);
                    if (r.status == 200) ++ok;
                }
            }));
        }
        for (auto& client : clients) client->join();
    }
    CHECK(ok == kClients * kEach);
    // One swap per round of the clients at most (6), far from one per request (24).
    const uint64_t swaps = m.swaps();
    INFO("swaps: " << swaps);
    CHECK(swaps >= 1);
    CHECK(swaps <= kEach + 1);
}

TEST_CASE("many models: a busy model does not starve another: after max_wait_for_swap it drains",
          "[fake][models][swap]") {
    // Three clients keep "a" busy with overlapping 600 ms requests for 10 s: it is never idle.
    TwoModels m("--fake-load-ms 0 --fake-response-delay-ms 600", "--fake-load-ms 0",
                "server.default_model = a\nserver.max_running = 1\n"
                "server.max_wait_for_swap = 1\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    const auto hammer_until = Clock::now() + 10s;
    std::atomic<int> a_ok{0}, a_failed{0};
    std::mutex failure_mutex;
    std::string failure;
    std::vector<std::unique_ptr<Background>> hammers;
    for (int c = 0; c < 3; ++c) {
        hammers.push_back(std::make_unique<Background>([&, c] {
            std::this_thread::sleep_for(std::chrono::milliseconds(200 * c));
            while (Clock::now() < hammer_until) {
                auto r = http(m.port(), "POST", "/v1/chat/completions", chat("a"), {}, 60s);
                (r.status == 200 ? a_ok : a_failed)++;
                if (r.status != 200) {
                    std::lock_guard<std::mutex> lock(failure_mutex);
                    failure = std::to_string(r.status) + " " + r.body;
                }
            }
        }));
    }
    REQUIRE(wait_until([&] { return a_ok >= 3; }, 10s));
    auto b = http(m.port(), "POST", "/v1/chat/completions", chat("b"), {}, 30s);
    const bool hammering = Clock::now() < hammer_until;
    for (auto& h : hammers) h->join();
    if (b.status != 200 || a_failed) std::ofstream("/tmp/starve.log") << m.engine->log();
    CHECK(b.status == 200);
    CHECK(hammering);  // served while "a" still had requests coming: it was not starved
    INFO(failure);
    CHECK(a_failed == 0);  // "a"'s requests waited for their turn; none was refused
}

TEST_CASE("many models: past max_concurrent and max_queued, 429 with Retry-After",
          "[fake][models][queue]") {
    TwoModels m("--fake-load-ms 0", "--fake-load-ms 0 --fake-response-delay-ms 1500",
                "server.default_model = b\nmodels.b.max_concurrent = 1\nmodels.b.max_queued = 1\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    int first = 0, second = 0;
    Background one(
        [&] { first = http(m.port(), "POST", "/v1/chat/completions", chat("b")).status; });
    REQUIRE(wait_until([&] { return m.admin("b")["in_flight"] == 1; }, 5s));
    Background two(
        [&] { second = http(m.port(), "POST", "/v1/chat/completions", chat("b")).status; });
    REQUIRE(wait_until([&] { return m.admin("b")["queued"] == 1; }, 5s));
    auto third = http(m.port(), "POST", "/v1/chat/completions", chat("b"));
    CHECK(third.status == 429);
    CHECK_FALSE(third.header("retry-after").empty());
    CHECK(json::parse(third.body)["error"]["code"] == "model_busy");
    one.join();
    two.join();
    CHECK(first == 200);
    CHECK(second == 200);  // the queued one waited its turn
}

TEST_CASE("many models: a per-model listener serves its model whatever the request names",
          "[fake][models][listen]") {
    const uint16_t b_port = free_port();
    TwoModels m("--fake-load-ms 0", "--fake-load-ms 0",
                "server.default_model = a\nmodels.b.autostart = true\n"
                "models.b.listen = 127.0.0.1:" +
                    std::to_string(b_port) + "\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    CHECK(http(b_port, "POST", "/v1/chat/completions", chat("a")).status == 200);
    CHECK(json::parse(base64_decode(last_request(m.port(), "b")["body_base64"]))["model"] == "a");
    CHECK(m.props_of("/props?model=a", b_port) == "b");
    auto list = json::parse(http(b_port, "GET", "/v1/models").body);
    REQUIRE(list["data"].size() == 1);
    CHECK(list["data"][0]["id"] == "b");
    CHECK(m.props_of("/props") == "a");  // server.listen routes as usual
}

TEST_CASE("many models: the admin API starts, stops and restarts a model and shows its log",
          "[fake][models][admin]") {
    TwoModels m("--fake-load-ms 0", "--fake-load-ms 0", "server.default_model = a\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    auto started = http(m.port(), "POST", "/admin/models/b/start");
    CHECK(started.status == 202);
    REQUIRE(m.wait_state("b", "ready"));
    const int pid = m.admin("b")["pid"];
    auto log = http(m.port(), "GET", "/admin/models/b/log?lines=3");
    CHECK(log.status == 200);
    CHECK_FALSE(log.body.empty());
    CHECK(std::count(log.body.begin(), log.body.end(), '\n') <= 3);
    CHECK(http(m.port(), "POST", "/admin/models/b/restart").status == 202);
    REQUIRE(m.wait_state("b", "ready"));
    CHECK(m.admin("b")["pid"] != pid);
    auto stopped = http(m.port(), "POST", "/admin/models/b/stop");
    CHECK(stopped.status == 200);
    CHECK(json::parse(stopped.body)["state"] == "stopped");
    CHECK_FALSE(process_alive(pid));
    CHECK(http(m.port(), "POST", "/admin/models/nope/start").status == 404);
    CHECK(http(m.port(), "POST", "/admin/models/b/explode").status == 404);
}

TEST_CASE("many models: server.admin_keys guard the admin API, apart from client keys",
          "[fake][models][admin]") {
    TwoModels m("--fake-load-ms 0", "--fake-load-ms 0",
                "server.default_model = a\nserver.api_keys = client-key\n"
                "server.admin_keys = admin-key\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    auto bearer = [](const std::string& key) {
        return std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer " + key}};
    };
    CHECK(http(m.port(), "GET", "/admin/models").status == 401);
    CHECK(http(m.port(), "GET", "/admin/models", "", bearer("client-key")).status == 401);
    CHECK(http(m.port(), "GET", "/admin/models", "", bearer("admin-key")).status == 200);
    CHECK(http(m.port(), "POST", "/v1/chat/completions", chat("a"), bearer("admin-key")).status ==
          401);
    CHECK(http(m.port(), "POST", "/v1/chat/completions", chat("a"), bearer("client-key")).status ==
          200);
}

TEST_CASE(
    "many models: reload keeps an unchanged model, restarts a changed one, adds and removes, "
    "an invalid file changes nothing",
    "[fake][models][reload]") {
    TwoModels m("--fake-load-ms 0", "--fake-load-ms 0",
                "server.default_model = a\nmodels.b.autostart = true\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    const int a_pid = m.admin("a")["pid"];
    const int b_pid = m.admin("b")["pid"];
    const std::string path = m.engine->config_path();
    // b changes; c is new.
    rewrite(path, "models.b.autostart = true\n",
            "models.b.autostart = true\nmodels.b.llama_server.ctx_size = 512\n" +
                fake_model_config("c", m.files.path() + "/model.gguf", "--fake-load-ms 0") +
                "models.c.autostart = true\n");
    m.engine->signal(SIGHUP);
    REQUIRE(m.engine->wait_log("reload: model b: changed", 10s));
    REQUIRE(m.wait_state("c", "ready"));
    REQUIRE(wait_until([&] { return m.state("b") == "ready" && m.admin("b")["pid"] != b_pid; }, 15s,
                       50ms));
    CHECK(m.admin("a")["pid"] == a_pid);
    CHECK_FALSE(process_alive(b_pid));
    CHECK(http(m.port(), "POST", "/v1/chat/completions", chat("c")).status == 200);
    // An invalid file: refused whole, its errors returned, the old config serves on.
    rewrite(path, "models.c.autostart = true\n", "models.c.autostart = perhaps\n");
    auto refused = http(m.port(), "POST", "/admin/reload");
    CHECK(refused.status == 400);
    auto errors = json::parse(refused.body)["errors"];
    REQUIRE(errors.size() >= 1);
    CHECK(errors[0].get<std::string>().find("models.c.autostart") != std::string::npos);
    CHECK(http(m.port(), "POST", "/v1/chat/completions", chat("c")).status == 200);
    CHECK(m.admin("a")["pid"] == a_pid);
    // c removed: it stops.
    const int c_pid = m.admin("c")["pid"];
    rewrite(path, "models.c.autostart = perhaps\n", "");
    rewrite(path, fake_model_config("c", m.files.path() + "/model.gguf", "--fake-load-ms 0"), "");
    auto applied = http(m.port(), "POST", "/admin/reload");
    CHECK(applied.status == 200);
    REQUIRE(wait_until([&] { return !process_alive(c_pid); }, 15s));
    CHECK(http(m.port(), "POST", "/v1/chat/completions", chat("c")).status == 404);
    CHECK(m.admin("a")["pid"] == a_pid);
}

TEST_CASE("many models: an 8 MiB body is routed by a model field that comes after the image",
          "[fake][models][routing]") {
    TwoModels m("--fake-load-ms 0", "--fake-load-ms 0",
                "server.default_model = a\nmodels.b.autostart = true\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    const std::string image(8 << 20, 'A');
    const std::string body =
        R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,)" +
        image + R"("}}]}],"model":"b"})";
    auto r = http(m.port(), "POST", "/v1/chat/completions", body, {}, 60s);
    CHECK(r.status == 200);
    CHECK(last_request(m.port(), "b")["body_base64"].get<std::string>().size() > (8u << 20));
}

TEST_CASE("many models: a client that leaves while it waits for room causes no swap",
          "[fake][models][swap]") {
    // "a" is busy for 4 s; a request for "b" waits for room, and its client leaves after 0.5 s.
    TwoModels m("--fake-load-ms 0 --fake-response-delay-ms 4000", "--fake-load-ms 0",
                "server.default_model = a\nserver.max_running = 1\n"
                "server.max_wait_for_swap = 30\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    int a_status = 0;
    Background busy(
        [&] { a_status = http(m.port(), "POST", "/v1/chat/completions", chat("a")).status; });
    REQUIRE(wait_until([&] { return m.admin("a")["in_flight"] == 1; }, 5s));
    {
        detail::RawResponse leaving(m.port(), "POST", "/v1/chat/completions", chat("b"), {}, 10s);
        REQUIRE(wait_until([&] { return m.admin("b")["queued"] == 1; }, 5s));
        std::this_thread::sleep_for(500ms);
    }  // closed: the client is gone
    // Noticed at the next tick (every 2 s), long before "a" is idle again.
    CHECK(wait_until([&] { return m.admin("b")["queued"] == 0; }, 3s));
    busy.join();
    CHECK(a_status == 200);
    std::this_thread::sleep_for(500ms);  // "a" is idle: a swap would start now
    CHECK(m.state("a") == "ready");
    CHECK(m.state("b") == "stopped");
    CHECK(m.swaps() == 0);
}

TEST_CASE("many models: the max_concurrent queue is first come, first served",
          "[fake][models][queue]") {
    TwoModels m("--fake-load-ms 0", "--fake-load-ms 0 --fake-response-delay-ms 300",
                "server.default_model = b\nmodels.b.max_concurrent = 1\nmodels.b.max_queued = 8\n");
    REQUIRE(m.engine->wait_health(200, 15s));
    std::mutex order_mutex;
    std::vector<int> order;
    std::vector<std::unique_ptr<Background>> clients;
    for (int i = 0; i < 6; ++i) {
        clients.push_back(std::make_unique<Background>([&, i] {
            auto r = http(m.port(), "POST", "/v1/chat/completions", chat("b"), {}, 30s);
            std::lock_guard<std::mutex> lock(order_mutex);
            order.push_back(r.status == 200 ? i : -1);
        }));
        // Each one in flight or queued before the next arrives.
        REQUIRE(wait_until(
            [&] {
                auto b = m.admin("b");
                return b["in_flight"].get<int>() + b["queued"].get<int>() == i + 1;
            },
            5s, 5ms));
    }
    for (auto& c : clients) c->join();
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5});
}
