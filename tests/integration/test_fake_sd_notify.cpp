// systemd's notification protocol: a datagram socket stands in for systemd (NOTIFY_SOCKET).
#include <signal.h>

#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace ge_test;

namespace {

std::vector<std::string> notify_env(const std::string& socket, const std::string& watchdog = "") {
    std::vector<std::string> launcher = {"/usr/bin/env", "NOTIFY_SOCKET=" + socket};
    if (!watchdog.empty()) launcher.push_back("WATCHDOG_USEC=" + watchdog);
    return launcher;
}

}  // namespace

TEST_CASE(
    "under systemd the engine sends READY=1 once the model is ready, STATUS, WATCHDOG=1, "
    "RELOADING=1 and STOPPING=1",
    "[fake][systemd]") {
    TempDir files;
    std::string model = files.write("m.gguf", "x");
    NotifyListener systemd(files.path() + "/notify.sock");
    // The model takes 500 ms to load: READY=1 must wait for it.
    Engine engine(fake_model_config("m", model, "--fake-load-ms 500"), "properties", {},
                  notify_env(systemd.name(), "200000"));
    REQUIRE(systemd.wait_for("READY=1", 15s));
    CAPTURE(systemd.messages());
    // The log line may come after the datagram: it goes through the asynchronous logger.
    CHECK(engine.wait_log("m: starting -> ready", 5s));
    int ready_status = systemd.first("STATUS=1/1 models ready; model m: ready: ", true);
    int ready = systemd.first("READY=1");
    CHECK(systemd.first("STATUS=0/1 models ready; model m: starting: ", true) >= 0);
    CHECK(ready_status >= 0);
    CHECK(ready > ready_status);
    CHECK(systemd.count("READY=1") == 1);

    // WATCHDOG_USEC=200000: a keep-alive every 100 ms.
    size_t seen = systemd.count("WATCHDOG=1");
    CHECK(systemd.wait_for("WATCHDOG=1", 2s, seen + 5));

    // SIGHUP: RELOADING=1, then READY=1 again.
    engine.signal(SIGHUP);
    REQUIRE(systemd.wait_for("READY=1", 10s, 2));
    int reloading = systemd.first("RELOADING=1");
    CHECK(reloading > ready);
    CHECK(systemd.first("MONOTONIC_USEC=") == reloading);

    CHECK(engine.stop(SIGTERM) == 0);
    CHECK(systemd.wait_for("STOPPING=1", 5s));
    CHECK(systemd.first("STOPPING=1") > reloading);
    // The child is not told where systemd listens: NOTIFY_SOCKET is taken out of the environment.
    CHECK(engine.log().find("NOTIFY_SOCKET") == std::string::npos);
}

TEST_CASE("READY=1 also comes when the only model fails to load, and an abstract socket works",
          "[fake][systemd]") {
    TempDir files;
    std::string model = files.write("m.gguf", "x");
    NotifyListener systemd("@gradatum-test-" + std::to_string(getpid()) + "-" +
                           std::to_string(free_port()));
    Engine engine(fake_model_config("m", model, "--fake-exit-at-start 1") +
                      "models.m.restart.load_error_retries = 0\n"
                      "models.m.restart.max_retries = 0\n",
                  "properties", {}, notify_env(systemd.name()));
    REQUIRE(systemd.wait_for("READY=1", 15s));
    CAPTURE(systemd.messages());
    CHECK(systemd.first("STATUS=0/1 models ready; model m: failed: ", true) >= 0);
    CHECK(systemd.first("STATUS=0/1 models ready; model m: failed: ", true) <
          systemd.first("READY=1"));
    CHECK(systemd.count("WATCHDOG=1") == 0);  // no WATCHDOG_USEC, no watchdog
    CHECK(engine.stop(SIGTERM) == 0);
    CHECK(systemd.wait_for("STOPPING=1", 5s));
}
