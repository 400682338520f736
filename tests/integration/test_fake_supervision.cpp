// Supervision against the fake llama-server: restarts, budgets, liveness, drain, no orphans.
#include <signal.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

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
    CHECK(fake.engine->log_count("-> starting") == 4);  // the first start and 3 restarts
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
    CHECK(fake.engine->log_count("-> starting") == 3);
    CHECK(fake.engine->log_contains("could not load 3 times"));
    CHECK(fake.engine->log_contains("failed to load model"));
}

TEST_CASE("a failed model does not stop the others", "[fake][supervision]") {
    TempDir files;
    std::string model = files.write("model.gguf", "x");
    Engine engine(fake_model_config("broken", model, "--fake-exit-at-start 3") +
                  fake_model_config("good", model, "--fake-load-ms 0") +
                  "models.broken.restart.max_retries = 0\n");
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
    CHECK(fake.engine->log_count("-> starting") == 1);
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

TEST_CASE("a non-streaming request whose child dies gets a 502 OpenAI error",
          "[fake][supervision]") {
    FakeEngine fake("--fake-load-ms 0 --fake-response-delay-ms 5000", kQuickRestarts);
    REQUIRE(fake.engine->wait_health(200, 10s));
    pid_t child = fake.child();
    HttpResult answer;
    std::thread client([&] { answer = http(fake.port(), "POST", "/v1/chat/completions", kChat); });
    std::this_thread::sleep_for(300ms);
    kill_child(child, SIGKILL);  // on this thread: Catch2's REQUIRE is not thread-safe
    client.join();
    CHECK(answer.status == 502);
    CHECK(json::parse(answer.body)["error"]["code"] == 502);
}

TEST_CASE("SIGTERM lets an in-flight stream finish, exits 0, leaves no child", "[fake][drain]") {
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 20 --fake-stream-interval-ms 50");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto children = children_of(fake.engine->pid());
    StreamResult result;
    std::thread client([&] { result = stream(fake.port(), "/v1/chat/completions", kStreamChat); });
    std::this_thread::sleep_for(200ms);
    fake.engine->signal(SIGTERM);
    // New connections are refused once the drain starts.
    std::this_thread::sleep_for(300ms);
    CHECK_THROWS(http(fake.port(), "GET", "/health", "", {}, 1s));
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
    std::thread client([&] { result = stream(fake.port(), "/v1/chat/completions", kStreamChat); });
    std::this_thread::sleep_for(200ms);
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
    std::thread client([&] { stream(fake.port(), "/v1/chat/completions", kStreamChat); });
    std::this_thread::sleep_for(200ms);
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

TEST_CASE("SIGHUP stops the engine gracefully too", "[fake][drain]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto children = children_of(fake.engine->pid());
    CHECK(fake.engine->stop(SIGHUP) == 0);
    CHECK(wait_all_gone(children, 2s));
}

TEST_CASE("under nohup, SIGHUP does not stop the engine", "[fake][drain]") {
    TempDir files;
    std::string model = files.write("model.gguf", "x");
    Engine engine(fake_model_config("m", model, "--fake-load-ms 0"), "properties", {}, {"nohup"});
    REQUIRE(engine.wait_health(200, 10s));
    engine.signal(SIGHUP);
    std::this_thread::sleep_for(500ms);
    CHECK(http(engine.port(), "GET", "/health").status == 200);
    CHECK(engine.stop(SIGTERM) == 0);
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
    std::atomic<int> answers{0}, unclean{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 2; ++c) {
        clients.emplace_back([&, c] {
            while (!done) {
                try {
                    bool ok = c == 0 ? clean_answer(http(fake.port(), "POST",
                                                         "/v1/chat/completions", kChat, {}, 15s))
                                     : clean_stream(stream(fake.port(), "/v1/chat/completions",
                                                           kStreamChat, 15s));
                    ++answers;
                    if (!ok) ++unclean;
                } catch (const std::exception&) {
                    ++unclean;  // a dropped connection is not a clean answer
                }
            }
        });
    }
    for (int kill_count = 0; kill_count < 20; ++kill_count) {
        pid_t child = 0;
        auto deadline = Clock::now() + 10s;
        while (Clock::now() < deadline && (child = fake.child()) == 0)
            std::this_thread::sleep_for(10ms);
        REQUIRE(fake.engine->wait_health(200, 10s));
        std::this_thread::sleep_for(100ms);  // let some requests run
        kill_child(child, SIGKILL);
        std::this_thread::sleep_for(20ms);
    }
    REQUIRE(fake.engine->wait_health(200, 10s));
    done = true;
    for (auto& t : clients) t.join();
    INFO(answers << " answers, " << unclean << " unclean");
    CHECK(answers > 20);
    CHECK(unclean == 0);
    CHECK(fake.engine->log_count("killed by signal 9 (SIGKILL) after") == 20);
    CHECK(fake.engine->stop(SIGTERM) == 0);
}
