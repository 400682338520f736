// The remote backend against the fake llama-server that the test runs itself: the engine probes
// it, routes to it, shows its state, survives its outage on its own, and never spawns or kills
// anything.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

constexpr int kExitConfig = 78;

// Probed every 0.2 s; two failures in a row and it is down; probed again 0.1 s later, then at
// most every 0.3 s.
std::string remote_config(const std::string& name, uint16_t port, const std::string& extra = "") {
    const std::string p = "models." + name + ".";
    return p + "backend = remote\n" + p + "remote.url = http://127.0.0.1:" + std::to_string(port) +
           "\n" + p + "liveness.interval = 0.2\n" + p + "liveness.timeout = 0.5\n" + p +
           "liveness.failures = 2\n" + p + "remote.retry_interval = 0.1\n" + p +
           "remote.retry_max = 0.3\n" + p + "queue_timeout = 5\n" + extra;
}

// False until the engine listens, too.
bool state_is(uint16_t port, const std::string& state, const std::string& name = "m",
              const std::string& key = "") {
    try {
        return admin_model(port, name, key)["state"] == state;
    } catch (const std::exception&) {
        return false;
    }
}

json error_of(const HttpResult& answer) {
    return json::parse(answer.body)["error"];
}

}  // namespace

TEST_CASE("a remote target is served, shown, and comes back after an outage on its own",
          "[fake][remote]") {
    TempDir files;
    const std::string model_file = files.write("model.gguf", "not really a model");
    const uint16_t remote_port = free_port();
    auto remote = fake_remote(remote_port, model_file, {"--alias", "m"});
    remote->start();
    REQUIRE(remote->wait_health(10s));

    Engine engine(remote_config("m", remote_port));
    REQUIRE(wait_until([&] { return state_is(engine.port(), "ready"); }, 10s, 20ms));
    json m = admin_model(engine.port());
    CHECK(m["pid"] == 0);
    CHECK(m["port"] == 0);
    CHECK(m["remote"] == "http://127.0.0.1:" + std::to_string(remote_port));
    CHECK(m["starts"] == 0);
    CHECK(m["state_reason"].get<std::string>().find("/health answered 200") != std::string::npos);

    auto chat = http(engine.port(), "POST", "/v1/chat/completions", kChat);
    CHECK(chat.status == 200);
    CHECK(json::parse(chat.body)["model"] == "m");
    auto streamed = http(engine.port(), "POST", "/v1/chat/completions", kStreamChat);
    CHECK(streamed.status == 200);
    CHECK(streamed.body.find("data: [DONE]") != std::string::npos);
    CHECK(children_of(engine.pid()).empty());

    // The outage: the model shows it with a reason, and requests get a clear 503 at once.
    remote->kill();
    REQUIRE(wait_until([&] { return state_is(engine.port(), "backoff"); }, 10s, 20ms));
    m = admin_model(engine.port());
    CHECK(m["state_reason"].get<std::string>().find("remote unreachable: ") == 0);
    CHECK(m["pid"] == 0);
    const auto asked = Clock::now();
    auto refused = http(engine.port(), "POST", "/v1/chat/completions", kChat);
    CHECK(Clock::now() - asked < 3s);  // not queue_timeout (5 s): an outage is answered at once
    CHECK(refused.status == 503);
    CHECK(refused.header("retry-after") == "5");
    json error = error_of(refused);
    CHECK(error["code"] == "remote_unreachable");
    CHECK(error["message"].get<std::string>().find("model 'm': remote unreachable: liveness "
                                                   "probe failed 2 times in a row: ") == 0);
    // The engine itself is healthy: a remote's outage is not its own.
    CHECK(http(engine.port(), "GET", "/health").status == 200);
    CHECK(children_of(engine.pid()).empty());

    // Back on the same port: ready again without anyone's help.
    remote = fake_remote(remote_port, model_file, {"--alias", "m"});
    remote->start();
    REQUIRE(remote->wait_health(10s));
    REQUIRE(wait_until([&] { return state_is(engine.port(), "ready"); }, 10s, 20ms));
    CHECK(http(engine.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    m = admin_model(engine.port());
    CHECK(m["ready_count"] == 2);
    CHECK(m["restarts"].get<int>() >= 1);
    CHECK(m["starts"] == 0);
    CHECK(http(engine.port(), "GET", "/metrics")
              .body.find("gradatum_model_restarts_total{model=\"m\",reason=\"liveness\"} 1") !=
          std::string::npos);

    // Nothing was ever spawned, and stopping the engine kills nothing: the remote lives on.
    CHECK(children_of(engine.pid()).empty());
    CHECK_FALSE(engine.log_contains("child pid"));
    CHECK(engine.stop() == 0);
    CHECK(remote->running());
    CHECK(remote->wait_health(2s));
}

TEST_CASE("a request that finds the remote gone has it probed at once, not at the next interval",
          "[fake][remote]") {
    TempDir files;
    const std::string model_file = files.write("model.gguf", "not really a model");
    const uint16_t remote_port = free_port();
    auto remote = fake_remote(remote_port, model_file);
    remote->start();
    REQUIRE(remote->wait_health(10s));
    // Liveness alone would take a minute to notice; the request may wait 20 s for a restart.
    Engine engine(remote_config("m", remote_port,
                                "models.m.liveness.interval = 60\nmodels.m.queue_timeout = 20\n"));
    REQUIRE(wait_until([&] { return state_is(engine.port(), "ready"); }, 10s, 20ms));
    CHECK(http(engine.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    remote->kill();
    const auto asked = Clock::now();
    auto refused = http(engine.port(), "POST", "/v1/chat/completions", kChat);
    CHECK(Clock::now() - asked < 5s);
    CHECK(refused.status == 503);
    CHECK(error_of(refused)["code"] == "remote_unreachable");
    CHECK(state_is(engine.port(), "backoff"));
}

TEST_CASE("a remote target down at startup shows why, it is served once it is up",
          "[fake][remote]") {
    TempDir files;
    const std::string model_file = files.write("model.gguf", "not really a model");
    const uint16_t remote_port = free_port();
    Engine engine(remote_config("m", remote_port));
    REQUIRE(wait_until([&] { return state_is(engine.port(), "backoff"); }, 10s, 20ms));
    CHECK(admin_model(engine.port())["state_reason"].get<std::string>().find(
              "remote unreachable: no answer from http://127.0.0.1:" + std::to_string(remote_port) +
              "/health: ") == 0);
    auto refused = http(engine.port(), "POST", "/v1/chat/completions", kChat);
    CHECK(refused.status == 503);
    CHECK(error_of(refused)["code"] == "remote_unreachable");
    CHECK(http(engine.port(), "GET", "/health").status == 200);

    auto remote = fake_remote(remote_port, model_file);
    remote->start();
    REQUIRE(wait_until([&] { return state_is(engine.port(), "ready"); }, 10s, 20ms));
    CHECK(http(engine.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    CHECK(children_of(engine.pid()).empty());
}

TEST_CASE("a remote target loaded on demand while it is down: 503 at once, not a load timeout",
          "[fake][remote]") {
    TempDir files;
    const std::string model_file = files.write("model.gguf", "not really a model");
    const uint16_t up_port = free_port(), down_port = free_port();
    auto up = fake_remote(up_port, model_file);
    up->start();
    REQUIRE(up->wait_health(10s));
    // "m" is not the default model: it starts on its first request.
    Engine engine("server.default_model = up\n" + remote_config("up", up_port) +
                  remote_config("m", down_port));
    REQUIRE(wait_until([&] { return state_is(engine.port(), "ready", "up"); }, 10s, 20ms));
    CHECK(admin_model(engine.port())["state"] == "stopped");
    const auto asked = Clock::now();
    auto refused = http(engine.port(), "POST", "/v1/chat/completions", kChat);
    CHECK(Clock::now() - asked < 3s);
    CHECK(refused.status == 503);
    CHECK(error_of(refused)["code"] == "remote_unreachable");
    CHECK(admin_model(engine.port())["loaded"] == true);

    // Once it is up, the next request is served.
    auto remote = fake_remote(down_port, model_file);
    remote->start();
    REQUIRE(remote->wait_health(10s));
    REQUIRE(wait_until([&] { return state_is(engine.port(), "ready"); }, 10s, 20ms));
    CHECK(http(engine.port(), "POST", "/v1/chat/completions", kChat).status == 200);
}

TEST_CASE("remote.api_key goes to the remote as a Bearer key, the client's key does not",
          "[fake][remote]") {
    TempDir files;
    const std::string model_file = files.write("model.gguf", "not really a model");
    const uint16_t remote_port = free_port();
    auto remote = fake_remote(remote_port, model_file, {}, {"LLAMA_API_KEY=remote-s3cret"});
    remote->start();
    REQUIRE(remote->wait_health(10s));
    Engine engine("server.api_keys = client-key\n" +
                  remote_config("m", remote_port, "models.m.remote.api_key = remote-s3cret\n"));
    REQUIRE(
        wait_until([&] { return state_is(engine.port(), "ready", "m", "client-key"); }, 10s, 20ms));
    const std::vector<std::pair<std::string, std::string>> client = {
        {"Authorization", "Bearer client-key"}};
    CHECK(http(engine.port(), "POST", "/v1/chat/completions", kChat, client).status == 200);
    auto last = json::parse(http(remote_port, "GET", "/fake/last-request", "",
                                 {{"Authorization", "Bearer remote-s3cret"}})
                                .body);
    std::string sent;
    for (auto& [name, value] : last["headers"].items()) {
        if (name == "Authorization" || name == "authorization") sent = value;
    }
    CHECK(sent == "Bearer remote-s3cret");
    CHECK(engine.log().find("remote-s3cret") == std::string::npos);
}

TEST_CASE("a remote target takes no slot under max_running", "[fake][remote]") {
    TempDir files;
    const std::string model_file = files.write("model.gguf", "not really a model");
    const uint16_t remote_port = free_port();
    auto remote = fake_remote(remote_port, model_file);
    remote->start();
    REQUIRE(remote->wait_health(10s));
    // One running model at most: "local" (a child) runs, and the remote "m" is served beside it.
    Engine engine("server.max_running = 1\nserver.default_model = local\n" +
                  fake_model_config("local", model_file, "--fake-load-ms 0") +
                  remote_config("m", remote_port));
    REQUIRE(wait_until([&] { return state_is(engine.port(), "ready", "local"); }, 10s, 20ms));
    const auto local_pid = admin_model(engine.port(), "local")["pid"].get<int>();
    REQUIRE(local_pid > 0);
    CHECK(http(engine.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    CHECK(state_is(engine.port(), "ready", "m"));
    json local = admin_model(engine.port(), "local");
    CHECK(local["state"] == "ready");
    CHECK(local["pid"] == local_pid);  // not stopped to make room
    CHECK(children_of(engine.pid()) == std::vector<pid_t>{static_cast<pid_t>(local_pid)});
}

TEST_CASE("remote config errors name the key", "[fake][remote][errors]") {
    std::string output;
    CHECK(
        run_engine_once("models.m.backend = remote\nmodels.m.remote.url = https://10.0.0.1:9000\n",
                        "properties", output) == kExitConfig);
    CHECK(output.find("engine.properties: models.m.remote.url: https is not supported yet (http "
                      "only)") != std::string::npos);
    CHECK(run_engine_once("models.m.backend = remote\nmodels.m.remote.url = http://h:9000/v1\n",
                          "properties", output) == kExitConfig);
    CHECK(output.find("models.m.remote.url: a path, query or fragment ('/v1') is not supported") !=
          std::string::npos);
    CHECK(run_engine_once(
              "models.m.backend = remote\nmodels.m.remote.url = http://h:9000\nmodels.m.ttl = 60\n",
              "properties", output) == kExitConfig);
    CHECK(output.find("models.m.ttl: backend remote has no process to stop when idle") !=
          std::string::npos);
    TempDir cache;
    CHECK(run_engine_once("models.m.backend = remote\nmodels.m.remote.url = http://h:9000\n"
                          "models.m.keep_cache = true\nserver.cache_dir = " +
                              cache.path() + "\n",
                          "properties", output) == kExitConfig);
    CHECK(output.find("models.m.keep_cache: backend remote has no process whose state could be "
                      "kept") != std::string::npos);
}
