// The systemd notifier without a real systemd: a datagram socket collects what it sends.
#include <unistd.h>
#include <catch2/catch.hpp>

#include "notify_listener.hpp"
#include "ops/sd_notify.hpp"
#include "temp_dir.hpp"

using namespace ge_test;
using gradatum::ModelState;
using gradatum::ops::NotifyTarget;
using gradatum::ops::ServiceNotifier;

TEST_CASE("notify writes one datagram to a path or an abstract socket", "[unit][systemd]") {
    TempDir dir;
    NotifyListener path(dir.path() + "/notify");
    NotifyListener abstract("@ge-unit-" + std::to_string(getpid()));
    CHECK(gradatum::ops::notify(path.name(), "READY=1\nSTATUS=hi"));
    CHECK(gradatum::ops::notify(abstract.name(), "STOPPING=1"));
    REQUIRE(path.wait_for("READY=1", 2s));
    REQUIRE(abstract.wait_for("STOPPING=1", 2s));
    CHECK(path.messages() == std::vector<std::string>{"READY=1\nSTATUS=hi"});
    CHECK_FALSE(gradatum::ops::notify("", "READY=1"));
    CHECK_FALSE(gradatum::ops::notify("relative/path", "READY=1"));
    CHECK_FALSE(gradatum::ops::notify(dir.path() + "/nobody", "READY=1"));
}

TEST_CASE("READY=1 waits for the listeners and for every model to be ready or failed once",
          "[unit][systemd]") {
    TempDir dir;
    NotifyListener systemd(dir.path() + "/notify");
    {
        ServiceNotifier n(NotifyTarget{systemd.name(), {}}, {"a", "b"});
        n.model_state("a", ModelState::ready, "probe ok");
        n.listening();
        n.model_state("b", ModelState::starting, "spawned");
        REQUIRE(systemd.wait_for("STATUS=", 2s, 3));
        CHECK(systemd.count("READY=1") == 0);
        n.model_state("b", ModelState::failed, "gave up");
        REQUIRE(systemd.wait_for("READY=1", 2s));
        CHECK(systemd.first("STATUS=1/2 models ready; model b: failed: gave up") >= 0);
        // Later changes are STATUS only; a restart does not send READY=1 again.
        n.model_state("a", ModelState::backoff, "exited");
        n.model_state("a", ModelState::ready, "probe ok");
        n.reloading();
        n.reloaded();
        n.stopping();
        REQUIRE(systemd.wait_for("STOPPING=1", 2s));
        CHECK(systemd.count("READY=1") == 2);  // the first, and the one after the reload
        CHECK(systemd.first("RELOADING=1") < systemd.first("STOPPING=1"));
    }
}

TEST_CASE("a reload before the first READY=1 does not announce readiness", "[unit][systemd]") {
    TempDir dir;
    NotifyListener systemd(dir.path() + "/notify");
    ServiceNotifier n(NotifyTarget{systemd.name(), {}}, {"a"});
    n.listening();
    n.reloading();
    n.reloaded();
    REQUIRE(systemd.wait_for("STATUS=", 2s, 3));
    CHECK(systemd.count("READY=1") == 0);
}

TEST_CASE("the watchdog sends WATCHDOG=1 every WATCHDOG_USEC/2", "[unit][systemd]") {
    TempDir dir;
    NotifyListener systemd(dir.path() + "/notify");
    auto start = std::chrono::steady_clock::now();
    {
        ServiceNotifier n(NotifyTarget{systemd.name(), std::chrono::microseconds(100'000)}, {"a"});
        REQUIRE(systemd.wait_for("WATCHDOG=1", 3s, 6));
    }
    // Six keep-alives at 50 ms intervals take at least 250 ms.
    CHECK(std::chrono::steady_clock::now() - start >= 250ms);
    size_t after = systemd.count("WATCHDOG=1");
    std::this_thread::sleep_for(200ms);
    CHECK(systemd.count("WATCHDOG=1") == after);  // stopped with the notifier
}

TEST_CASE("from_environment reads and removes NOTIFY_SOCKET and WATCHDOG_USEC", "[unit][systemd]") {
    setenv("NOTIFY_SOCKET", "@x", 1);
    setenv("WATCHDOG_USEC", "300000", 1);
    setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
    auto t = NotifyTarget::from_environment();
    CHECK(t.socket == "@x");
    CHECK(t.watchdog == std::chrono::microseconds(300000));
    CHECK(getenv("NOTIFY_SOCKET") == nullptr);
    CHECK(getenv("WATCHDOG_USEC") == nullptr);
    CHECK(getenv("WATCHDOG_PID") == nullptr);
    setenv("WATCHDOG_USEC", "300000", 1);
    setenv("WATCHDOG_PID", "1", 1);  // meant for another process
    CHECK(NotifyTarget::from_environment().watchdog.count() == 0);
}
