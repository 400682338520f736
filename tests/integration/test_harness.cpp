// Self-tests of the harness where what it does is not obvious from reading it.
#include <signal.h>
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace ge_test;

namespace {

const std::string kQuickRestart = "models.m.restart.initial_delay = 0.05\n";

// Kills the fake child and waits for its replacement: by then the engine has logged the death.
void replace_child(FakeEngine& fake) {
    pid_t first = fake.child();
    kill_child(first, SIGKILL);
    pid_t next = 0;
    REQUIRE(wait_until([&] { return (next = fake.child()) != 0 && next != first; }, 10s));
}

}  // namespace

TEST_CASE("harness: lines the engine writes while its output is paused wait for resume_output",
          "[fake][harness]") {
    FakeEngine fake("--fake-load-ms 0", kQuickRestart);
    REQUIRE(fake.engine->wait_health(200, 10s));
    fake.engine->pause_output();
    replace_child(fake);
    CHECK_FALSE(fake.engine->log_contains("killed by signal 9"));
    fake.engine->resume_output();
    CHECK(fake.engine->wait_log("killed by signal 9", 5s));
}

TEST_CASE("harness: an engine whose output is paused can still be destroyed", "[fake][harness]") {
    // The reader of the engine's output is blocked by the pause; ~Engine must resume it before
    // it waits for that reader, or this test hangs until ctest's timeout.
    FakeEngine fake("--fake-load-ms 0", kQuickRestart);
    REQUIRE(fake.engine->wait_health(200, 10s));
    fake.engine->pause_output();
    replace_child(fake);
    fake.engine.reset();
}
