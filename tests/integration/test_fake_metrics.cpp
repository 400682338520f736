// GET /metrics: valid Prometheus text (checked by promtool), and counts that match known traffic.
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>

#include "harness.hpp"

using namespace ge_test;

namespace {

// The value of one sample ("name{labels}" exactly as exposed), or -1 if absent.
double sample(const std::string& text, const std::string& series) {
    size_t at = 0;
    while ((at = text.find(series + " ", at)) != std::string::npos) {
        if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + series.size() + 1));
        ++at;
    }
    return -1;
}

std::string promtool() {
    if (const char* path = std::getenv("GE_PROMTOOL")) return path;
    return "";
}

}  // namespace

TEST_CASE("/metrics passes promtool check metrics", "[fake][metrics]") {
    std::string tool = promtool();
    struct stat st {};
    if (tool.empty() || stat(tool.c_str(), &st) != 0) {
        if (std::getenv("CI")) FAIL("GE_PROMTOOL is not set (scripts/get-promtool.sh)");
        WARN("no promtool (set GE_PROMTOOL, see scripts/get-promtool.sh); not checked");
        return;
    }
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    auto metrics = http(fake.port(), "GET", "/metrics");
    REQUIRE(metrics.status == 200);
    std::string file = fake.files.write("metrics.txt", metrics.body);
    std::string output;
    int code = run_shell(shell_quote(tool) + " check metrics < " + shell_quote(file), &output);
    INFO(metrics.body << "\npromtool: " << output);
    CHECK(code == 0);
    CHECK(output.empty());  // promtool prints lint problems even when it exits 0
}

TEST_CASE("/metrics counts known traffic", "[fake][metrics]") {
    FakeEngine fake("--fake-load-ms 0", "models.m.restart.initial_delay = 0.05\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    for (int i = 0; i < 3; ++i) {
        CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    }
    CHECK(stream(fake.port(), "/v1/chat/completions", kStreamChat).status == 200);
    CHECK(http(fake.port(), "GET", "/v1/nothing").status == 404);  // the child's 404
    // A request is accounted just after its answer went out: the client can be quicker.
    const std::string last = "gradatum_requests_total{model=\"m\",route=\"other\",code=\"4xx\"}";
    std::string text;
    REQUIRE(wait_until(
        [&] {
            text = http(fake.port(), "GET", "/metrics").body;
            return sample(text, last) == 1 &&
                   sample(text, "gradatum_request_duration_seconds_count{model=\"m\"}") == 5;
        },
        5s));
    INFO(text);
    const std::string m = "model=\"m\"";
    CHECK(sample(text, "gradatum_requests_total{" + m +
                           ",route=\"/v1/chat/completions\",code=\"2xx\"}") == 4);
    CHECK(sample(text, "gradatum_requests_total{" + m + ",route=\"other\",code=\"4xx\"}") == 1);
    CHECK(sample(text, "gradatum_request_duration_seconds_count{" + m + "}") == 5);
    CHECK(sample(text, "gradatum_time_to_first_byte_seconds_count{" + m + "}") == 5);
    CHECK(sample(text, "gradatum_received_bytes_total{" + m + "}") ==
          static_cast<double>(3 * kChat.size() + kStreamChat.size()));
    CHECK(sample(text, "gradatum_sent_bytes_total{" + m + "}") > 0);
    CHECK(sample(text, "gradatum_model_state{" + m + ",state=\"ready\"}") == 1);
    CHECK(sample(text, "gradatum_model_state{" + m + ",state=\"failed\"}") == 0);
    CHECK(sample(text, "gradatum_model_starts_total{" + m + "}") == 1);
    CHECK(sample(text, "gradatum_requests_in_flight{" + m + "}") == 0);
    CHECK(sample(text, "gradatum_model_load_seconds{" + m + "}") > 0);
    // The engine's own answers count under model "-".
    CHECK(sample(text, "gradatum_requests_total{model=\"-\",route=\"/health\",code=\"2xx\"}") >= 1);

    kill_child(fake.child(), SIGKILL);
    REQUIRE(wait_until([&] { return admin_model(fake.port())["ready_count"] == 2; }, 10s));
    text = http(fake.port(), "GET", "/metrics").body;
    CHECK(sample(text, "gradatum_model_restarts_total{" + m + ",reason=\"signal\"}") == 1);
    CHECK(sample(text, "gradatum_model_last_exit_signal{" + m + "}") == 9);
    CHECK(sample(text, "gradatum_model_last_exit_code{" + m + "}") == -1);
    CHECK(sample(text, "gradatum_model_starts_total{" + m + "}") == 2);
}

TEST_CASE("server.metrics_listen serves /metrics and nothing else, children's metrics merge",
          "[fake][metrics]") {
    uint16_t metrics_port = free_port();
    FakeEngine fake("--fake-load-ms 0 --metrics",
                    "server.metrics_listen = 127.0.0.1:" + std::to_string(metrics_port) +
                        "\nserver.metrics_children = true\nserver.api_keys = k-metrics-1\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto scraped = http(metrics_port, "GET", "/metrics");  // no key needed on this listener
    CHECK(scraped.status == 200);
    CHECK(scraped.body.find("gradatum_model_state{model=\"m\",state=\"ready\"} 1") !=
          std::string::npos);
    CHECK(scraped.body.find("llamacpp:requests_processing{model=\"m\"} 0") != std::string::npos);
    CHECK(http(metrics_port, "POST", "/v1/chat/completions", kChat).status == 404);
    CHECK(http(fake.port(), "GET", "/metrics").status == 401);  // the main listener wants a key
}

TEST_CASE("one access-log line per request, with how it ended", "[fake][metrics][access]") {
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 200 --fake-stream-interval-ms 20",
                    "models.m.restart.initial_delay = 0.05\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    REQUIRE(fake.engine->wait_log("access: 127.0.0.1:", 5s));
    const std::string whole =
        "m POST /v1/chat/completions 200 in=" + std::to_string(kChat.size()) + " out=";
    CHECK(fake.engine->wait_log(whole, 5s));
    CHECK(fake.engine->log_contains("cut=-"));
    // A client that leaves mid-stream.
    stream(fake.port(), "/v1/chat/completions", kStreamChat, 10s, 2);
    CHECK(fake.engine->wait_log("cut=client", 5s));
    // A child that dies mid-stream.
    pid_t child = fake.child();
    REQUIRE(child > 1);
    stream(fake.port(), "/v1/chat/completions", kStreamChat, 10s, 0, [&](size_t count) {
        if (count == 3) kill_child(child, SIGKILL);
    });
    CHECK(fake.engine->wait_log("cut=backend", 5s));
    // The engine's own answers are logged too, with no model.
    CHECK(fake.engine->wait_log("- GET /health 200", 5s));
}

TEST_CASE("logging.access = false: no access lines", "[fake][metrics][access]") {
    FakeEngine fake("--fake-load-ms 0", "logging.access = false\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    CHECK(fake.engine->stop(SIGTERM) == 0);
    fake.engine->drain_output();
    CHECK_FALSE(fake.engine->log_contains("access: "));
}
