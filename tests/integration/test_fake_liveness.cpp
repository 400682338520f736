// liveness.generate against the fake llama-server: a child whose /health answers while its
// generation is wedged is restarted only when liveness asks it to generate.
#include <Poco/String.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <thread>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

// Probed every 0.2 s with a 0.3 s timeout; two failures in a row restart the child.
const std::string kQuickLiveness =
    "models.m.liveness.interval = 0.2\n"
    "models.m.liveness.timeout = 0.3\n"
    "models.m.liveness.failures = 2\n"
    "models.m.restart.initial_delay = 0.05\n"
    "models.m.restart.max_delay = 0.2\n";

// The fake's generation hangs from its start; its /health answers 200 throughout.
const std::string kWedged = "--fake-load-ms 0 --fake-hang-generation-after-ms 0";

std::string header(const json& record, const std::string& name) {
    for (auto& [key, value] : record["headers"].items()) {
        if (Poco::icompare(key, name) == 0) return value.get<std::string>();
    }
    return "";
}

}  // namespace

TEST_CASE("liveness.generate restarts a child whose generation is wedged behind a good /health",
          "[fake][liveness]") {
    FakeEngine fake(kWedged, kQuickLiveness + "models.m.liveness.generate = true\n");
    REQUIRE(fake.engine->wait_health(200, 10s));  // readiness is still /health: it passes
    pid_t first = fake.child();
    REQUIRE(first > 0);
    REQUIRE(wait_until([&] { return admin_model(fake.port())["restarts"] >= 1; }, 10s, 50ms));
    CHECK(fake.engine->log_contains("liveness probe failed 2 times in a row"));
    // Restarted for liveness, not counted as a crash.
    CHECK(http(fake.port(), "GET", "/metrics")
              .body.find("gradatum_model_restarts_total{model=\"m\",reason=\"liveness\"}") !=
          std::string::npos);
    CHECK(wait_until([&] { return fake.child() != first && fake.child() != 0; }, 10s));
}

TEST_CASE("without liveness.generate a wedged generation goes unseen (the /health probe passes)",
          "[fake][liveness]") {
    // The control for the test above: the same child, the same liveness timing, no generate.
    FakeEngine fake(kWedged, kQuickLiveness);
    REQUIRE(fake.engine->wait_health(200, 10s));
    pid_t child = fake.child();
    REQUIRE(child > 0);
    // Ten liveness intervals: five times what the wedged child needs to be restarted above.
    std::this_thread::sleep_for(2s);
    auto model = admin_model(fake.port());
    CHECK(model["state"] == "ready");
    CHECK(model["restarts"] == 0);
    CHECK(model["starts"] == 1);
    CHECK_FALSE(fake.engine->log_contains("liveness probe failed"));
    CHECK(fake.child() == child);
}

TEST_CASE("liveness.generate sends the plugin's one-token request with the child's key",
          "[fake][liveness]") {
    FakeEngine fake("--fake-load-ms 0", kQuickLiveness + "models.m.liveness.generate = true\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    pid_t child = fake.child();
    REQUIRE(child > 0);
    const std::string key = child_api_key(child);
    // /health is not recorded by the fake: the first request it records is the liveness probe.
    json last;
    REQUIRE(wait_until(
        [&] {
            auto answer = http(fake.port(), "GET", "/fake/last-request");
            if (answer.status != 200) return false;
            last = json::parse(answer.body);
            return true;
        },
        5s, 50ms));
    CHECK(last["method"] == "POST");
    CHECK(last["uri"] == "/completion");
    CHECK(header(last, "Content-Type") == "application/json");
    const std::string body = base64_decode(last["body_base64"].get<std::string>());
    CHECK(header(last, "Content-Length") == std::to_string(body.size()));
    CHECK(header(last, "Authorization") == "Bearer " + key);
    auto request = json::parse(body);
    CHECK(request["n_predict"] == 1);
    // A healthy child passes every such probe: a few intervals later, still the same child.
    std::this_thread::sleep_for(1s);
    auto model = admin_model(fake.port());
    CHECK(model["state"] == "ready");
    CHECK(model["restarts"] == 0);
    CHECK_FALSE(fake.engine->log_contains("liveness probe failed"));
    CHECK(fake.child() == child);
}
