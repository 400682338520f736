// Supervision against the fake llama-server: restarts, budgets, liveness, drain, no orphans.
#include <signal.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

// Fast restarts so that tests do not wait on the production backoff.
const std::string kQuickRestarts =
    "models.m.restart.initial_delay = 0.05\n"
    "models.m.restart.max_delay = 0.2\n";

std::string error_message(const std::string& body) {
    return json::parse(body)["error"]["message"].get<std::string>();
}

// A clean answer: a success, or an OpenAI error; a stream that ends with [DONE] or an error event.
bool clean_answer(const HttpResult& r) {
    if (r.status == 200) return true;
    if (r.status != 502 && r.status != 503) return false;
    auto body = json::parse(r.body, nullptr, false);
    return body.is_object() && body.contains("error");
}

bool clean_stream(const StreamResult& r) {
    if (r.status == 502 || r.status == 503) return true;  // refused before it started
    if (r.status != 200 || r.events.empty()) return false;
    return r.events.back() == "data: [DONE]" || r.events.back().rfind("data: {\"error\"", 0) == 0;
}

}  // namespace

TEST_CASE("a crash loop ends in failed with its reason and /health says so",
          "[fake][supervision]") {
    FakeEngine fake("--fake-exit-at-start 3", kQuickRestarts +
                                                  "models.m.restart.max_retries = 3\n"
                                                  "models.m.restart.window = 60\n");
    REQUIRE(fake.engine->wait_log("-> failed", 10s));
    auto model = admin_model(fake.port());
    CHECK(model["state"] == "failed");
    CHECK(model["starts"] == 4);  // the first start and 3 restarts
    CHECK(model["restarts"] == 3);
    CHECK(model["last_exit"] == "exited with code 3");
    CHECK(fake.engine->log_contains("gave up after 3 restarts within 60 s"));
    auto health = http(fake.port(), "GET", "/health");
    CHECK(health.status == 503);
    CHECK(error_message(health.body).find("model 'm' has failed") != std::string::npos);
    auto request = http(fake.port(), "POST", "/v1/chat/completions", kChat);
    CHECK(request.status == 503);
    auto message = error_message(request.body);
    CHECK(message.find("model 'm' has failed") != std::string::npos);
    CHECK(message.find("exited with code 3") != std::string::npos);
    // The engine itself keeps running and stops cleanly.
    CHECK(fake.engine->stop(SIGTERM) == 0);
}

TEST_CASE("a model that cannot load is retried twice, then failed", "[fake][supervision]") {
    FakeEngine fake("--fake-exit-at-start 1", kQuickRestarts);
    REQUIRE(fake.engine->wait_log("-> failed", 10s));
    auto model = admin_model(fake.port());
    CHECK(model["starts"] == 3);
    CHECK(model["restarts"] == 2);
    CHECK(model["ready_count"] == 0);
    CHECK(fake.engine->log_contains("could not load 3 times"));
    CHECK(fake.engine->log_contains("failed to load model"));
}

TEST_CASE("a failed model does not stop the others", "[fake][supervision]") {
    TempDir files;
    std::string model = files.write("model.gguf", "x");
    Engine engine(fake_model_config("broken", model, "--fake-exit-at-start 3") +
                  fake_model_config("good", model, "--fake-load-ms 0") +
                  "models.broken.restart.max_retries = 0\n"
                  // With several models and no default, none starts before its first request.
                  "models.broken.autostart = true\nmodels.good.autostart = true\n");
    REQUIRE(engine.wait_log("model broken: starting -> failed", 10s));
    REQUIRE(engine.wait_log("model good: starting -> ready", 10s));
    auto good = http(engine.port(), "POST", "/v1/chat/completions",
                     R"({"model":"good","messages":[{"role":"user","content":"hi"}]})");
    CHECK(good.status == 200);
    auto broken = http(engine.port(), "POST", "/v1/chat/completions",
                       R"({"model":"broken","messages":[{"role":"user","content":"hi"}]})");
    CHECK(broken.status == 503);
    CHECK(error_message(broken.body).find("model 'broken' has failed") != std::string::npos);
    auto unknown =
        http(engine.port(), "POST", "/v1/chat/completions", R"({"model":"nope","messages":[]})");
    CHECK(unknown.status == 404);
    CHECK(http(engine.port(), "GET", "/health").status == 503);
    // With several models, /v1/models lists them all with their states.
    auto models = json::parse(http(engine.port(), "GET", "/v1/models").body)["data"];
    REQUIRE(models.size() == 2);
    CHECK(models[0]["id"] == "broken");
    CHECK(models[0]["status"] == "failed");
    CHECK(models[1]["id"] == "good");
    CHECK(models[1]["status"] == "ready");
}

TEST_CASE("a crashed child is restarted and serves again", "[fake][supervision]") {
    FakeEngine fake("--fake-load-ms 0", kQuickRestarts);
    REQUIRE(fake.engine->wait_health(200, 10s));
    pid_t first = fake.child();
    kill_child(first, SIGKILL);
    REQUIRE(fake.engine->wait_log("killed by signal 9", 5s));
    REQUIRE(fake.engine->wait_log("-> backoff", 5s));
    REQUIRE(fake.engine->wait_health(200, 10s));
    CHECK(fake.child() != first);
    CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
}

TEST_CASE("requests that arrive during a restart wait for it", "[fake][supervision]") {
    FakeEngine fake("--fake-load-ms 300",
                    "models.m.restart.initial_delay = 0.3\nmodels.m.restart.jitter = 0\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    kill_child(fake.child(), SIGKILL);
    REQUIRE(fake.engine->wait_log("-> backoff", 5s));
    auto start = Clock::now();
    auto answer = http(fake.port(), "POST", "/v1/chat/completions", kChat);
    CHECK(answer.status == 200);
    CHECK(Clock::now() - start >= 300ms);  // it waited for the backoff and the load
}

TEST_CASE("slow load within ready_timeout becomes ready", "[fake][readiness]") {
    FakeEngine fake("--fake-load-ms 2000", "models.m.ready_timeout = 10\n");
    CHECK(fake.engine->wait_health(200, 15s));
    auto model = admin_model(fake.port());
    CHECK(model["starts"] == 1);
    CHECK(model["ready_count"] == 1);
}

TEST_CASE("a load that exceeds ready_timeout is stopped and retried", "[fake][readiness]") {
    FakeEngine fake("--fake-load-ms 60000", "models.m.ready_timeout = 0.5\n" + kQuickRestarts);
    REQUIRE(fake.engine->wait_log("not ready after 0.5", 10s));
    CHECK(fake.engine->wait_log("-> backoff", 5s));
    CHECK(http(fake.port(), "GET", "/health").status == 503);
}

TEST_CASE("a hung /health is a dead child: it is restarted", "[fake][liveness]") {
    FakeEngine fake("--fake-load-ms 0 --fake-hang-health-after-ms 500",
                    kQuickRestarts +
                        "models.m.liveness.interval = 0.2\n"
                        "models.m.liveness.timeout = 0.2\n"
                        "models.m.liveness.failures = 2\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    pid_t first = fake.child();
    REQUIRE(first > 0);
    REQUIRE(fake.engine->wait_log("liveness probe failed 2 times in a row", 10s));
    REQUIRE(fake.engine->wait_log("-> backoff", 5s));
    REQUIRE(fake.engine->wait_log("model m: starting -> ready", 10s));
    CHECK(fake.child() != first);
}

TEST_CASE("SIGTERM lets an in-flight stream finish, exits 0, leaves no child", "[fake][drain]") {
    // About 2 s of stream: the drain has to wait for it.
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 40 --fake-stream-interval-ms 50");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto children = children_of(fake.engine->pid());
    StreamResult result;
    Flag started;
    Background client([&] {
        result = stream(fake.port(), "/v1/chat/completions", kStreamChat, 30s, 0,
                        [&](size_t) { started.raise(); });
    });
    REQUIRE(started.wait(10s));
    fake.engine->signal(SIGTERM);
    REQUIRE(fake.engine->wait_log("draining", 5s));
    // New connections are refused once the drain starts: while the stream still runs.
    CHECK(wait_until([&] { return connection_refused(fake.port()); }, 5s));
    CHECK_FALSE(client.done().raised());
    client.join();
    CHECK(result.complete);
    REQUIRE_FALSE(result.events.empty());
    CHECK(result.events.back() == "data: [DONE]");
    CHECK(fake.engine->wait_exit(10s) == 0);
    CHECK(wait_all_gone(children, 2s));
}

TEST_CASE("a stream longer than the drain ends with an error event and exit 0", "[fake][drain]") {
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 1000 --fake-stream-interval-ms 20",
                    "server.drain_timeout = 0.5\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto children = children_of(fake.engine->pid());
    StreamResult result;
    Flag started;
    Background client([&] {
        result = stream(fake.port(), "/v1/chat/completions", kStreamChat, 30s, 0,
                        [&](size_t) { started.raise(); });
    });
    REQUIRE(started.wait(10s));
    auto start = Clock::now();
    fake.engine->signal(SIGTERM);
    CHECK(fake.engine->wait_exit(10s) == 0);
    CHECK(Clock::now() - start < 5s);
    client.join();
    fake.engine->drain_output();
    INFO(fake.engine->log());
    INFO("last event: " << (result.events.empty() ? "none" : result.events.back()));
    REQUIRE_FALSE(result.events.empty());
    CHECK(result.events.back().rfind("data: {\"error\"", 0) == 0);
    CHECK(wait_all_gone(children, 2s));
}

TEST_CASE("a second SIGTERM skips the drain", "[fake][drain]") {
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 1000 --fake-stream-interval-ms 20",
                    "server.drain_timeout = 30\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    Flag started;
    Background client([&] {
        stream(fake.port(), "/v1/chat/completions", kStreamChat, 30s, 0,
               [&](size_t) { started.raise(); });
    });
    REQUIRE(started.wait(10s));
    auto start = Clock::now();
    fake.engine->signal(SIGTERM);
    REQUIRE(fake.engine->wait_log("draining", 5s));
    fake.engine->signal(SIGTERM);
    int code = fake.engine->wait_exit(10s);
    fake.engine->drain_output();
    INFO(fake.engine->log());
    CHECK(code == 0);
    CHECK(Clock::now() - start < 5s);
    client.join();
}

TEST_CASE("SIGHUP reloads instead of stopping the engine", "[fake][drain]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    pid_t child = fake.child();
    fake.engine->signal(SIGHUP);
    REQUIRE(fake.engine->wait_log("Hangup: reloading", 5s));
    CHECK(fake.engine->wait_log("reload: model m: unchanged", 5s));
    CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    CHECK(fake.child() == child);  // the model was not touched
    auto children = children_of(fake.engine->pid());
    CHECK(fake.engine->stop(SIGTERM) == 0);
    CHECK(wait_all_gone(children, 2s));
}

TEST_CASE("under nohup, SIGHUP does not reach the engine", "[fake][drain]") {
    TempDir files;
    std::string model = files.write("model.gguf", "x");
    Engine engine(fake_model_config("m", model, "--fake-load-ms 0"), "properties", {}, {"nohup"});
    REQUIRE(engine.wait_health(200, 10s));
    engine.signal(SIGHUP);
    CHECK(http(engine.port(), "GET", "/health").status == 200);
    // The engine takes stop signals in order, a pending SIGHUP before a SIGTERM (the lower
    // number first): had the SIGHUP reached it, the stop would be logged as a hangup.
    CHECK(engine.stop(SIGTERM) == 0);
    engine.drain_output();
    INFO(engine.log());
    CHECK(engine.log_contains("Terminated: stopping"));
    CHECK_FALSE(engine.log_contains("Hangup"));
}

TEST_CASE("a child that ignores SIGTERM is killed after stop_timeout", "[fake][drain]") {
    FakeEngine fake("--fake-load-ms 0 --fake-ignore-sigterm", "models.m.stop_timeout = 0.5\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto children = children_of(fake.engine->pid());
    auto start = Clock::now();
    CHECK(fake.engine->stop(SIGTERM) == 0);
    CHECK(Clock::now() - start < 5s);
    CHECK(fake.engine->log_contains("sending SIGKILL"));
    CHECK(wait_all_gone(children, 2s));
}

TEST_CASE("kill -9 of the engine leaves no child behind", "[fake][orphans]") {
    FakeEngine fake("--fake-load-ms 0 --fake-ignore-sigterm");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto children = children_of(fake.engine->pid());
    REQUIRE(children.size() == 1);
    fake.engine->stop(SIGKILL);
    CHECK(wait_all_gone(children, 1s));
}

TEST_CASE("20 child kills in a row under light load give only clean answers",
          "[fake][supervision]") {
    FakeEngine fake("--fake-load-ms 50 --fake-stream-events 10 --fake-stream-interval-ms 10",
                    kQuickRestarts +
                        "models.m.restart.max_retries = 100\n"
                        "models.m.queue_timeout = 10\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    std::atomic<bool> done{false};
    std::atomic<int> answers{0}, served{0}, unclean{0};
    std::vector<std::unique_ptr<Background>> clients;
    for (int c = 0; c < 2; ++c) {
        clients.push_back(std::make_unique<Background>([&, c] {
            while (!done) {
                try {
                    bool ok, full;
                    if (c == 0) {
                        auto r = http(fake.port(), "POST", "/v1/chat/completions", kChat, {}, 15s);
                        ok = clean_answer(r);
                        full = r.status == 200;
                    } else {
                        auto r = stream(fake.port(), "/v1/chat/completions", kStreamChat, 15s);
                        ok = clean_stream(r);
                        full = r.status == 200 && ok && r.events.back() == "data: [DONE]";
                    }
                    ++answers;
                    if (full) ++served;
                    if (!ok) ++unclean;
                } catch (const std::exception&) {
                    ++unclean;  // a dropped connection is not a clean answer
                }
            }
        }));
    }
    // However the test ends, the clients stop before they are joined.
    struct StopClients {
        std::atomic<bool>& done;
        ~StopClients() { done = true; }
    } stop_clients{done};
    for (int kills = 0; kills < 20; ++kills) {
        pid_t child = 0;
        REQUIRE(wait_until([&] { return (child = fake.child()) != 0; }, 10s));
        REQUIRE(fake.engine->wait_health(200, 10s));
        // Let some requests run: the child has served one more in full.
        int before = served;
        REQUIRE(wait_until([&] { return served > before; }, 10s));
        kill_child(child, SIGKILL);
        // The engine has seen this death: the next round finds the new child, not this one.
        REQUIRE(wait_until([&] { return admin_model(fake.port())["restarts"] == kills + 1; }, 10s));
    }
    REQUIRE(fake.engine->wait_health(200, 10s));
    done = true;
    for (auto& client : clients) client->join();
    INFO(answers << " answers, " << unclean << " unclean");
    CHECK(answers > 20);
    CHECK(unclean == 0);
    auto model = admin_model(fake.port());
    CHECK(model["restarts"] == 20);
    CHECK(model["starts"] == 21);
    CHECK(model["last_exit"] == "killed by signal 9 (SIGKILL)");
    CHECK(fake.engine->stop(SIGTERM) == 0);
}
