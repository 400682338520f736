// Crash, hang and starvation paths of the engine, against the fake llama-server: what happens
// when the environment is hostile (ignored SIGCHLD, a child that cannot be reaped), when one model
// restarts under load, when a client's upload is cut, and when a child dies between admission
// and connect.
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.hpp"
#include "supervisor/child_port.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

const std::string kQuickRestarts =
    "models.m.restart.initial_delay = 0.05\n"
    "models.m.restart.max_delay = 0.2\n";

// Sends raw bytes, closes the sending side, and returns all the engine answered.
std::string raw_exchange(uint16_t port, const std::string& bytes) {
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
    socket.shutdownSend();
    std::string answer;
    char buffer[4096];
    int n;
    while ((n = socket.receiveBytes(buffer, sizeof buffer)) > 0) answer.append(buffer, n);
    return answer;
}

}  // namespace

TEST_CASE("started with SIGCHLD ignored, the engine still learns how its child died",
          "[fake][robustness]") {
    TempDir files;
    std::string model = files.write("model.gguf", "fake");
    // An ignored signal stays ignored across exec: the engine inherits SIG_IGN for SIGCHLD.
    Engine engine(fake_model_config("m", model, "--fake-load-ms 0") + kQuickRestarts, "properties",
                  {}, {"/usr/bin/perl", "-e", "$SIG{CHLD} = 'IGNORE'; exec @ARGV or die $!"});
    REQUIRE(engine.wait_health(200, 10s));
    pid_t child = only_child(engine);
    REQUIRE(child > 1);
    kill_child(child, SIGKILL);
    // With SIGCHLD ignored the kernel reaps the child itself and the status is lost ("exited
    // with code -1"), unless the engine resets the disposition.
    REQUIRE(engine.wait_log("killed by signal 9", 10s));
    CHECK_FALSE(engine.log_contains("exited with code -1"));
    CHECK(engine.wait_health(200, 10s));
}

TEST_CASE("a child that cannot be reaped does not hang the engine's stop", "[fake][robustness]") {
    FakeEngine fake("--fake-load-ms 0", "models.m.stop_timeout = 0.5\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    pid_t child = fake.child();
    REQUIRE(child > 1);
    // A tracer that never waits for it: the child's exit is reported to the tracer only, so the
    // engine's waitid never returns, as for a child stuck in uninterruptible sleep.
    int attached[2];
    REQUIRE(pipe(attached) == 0);
    pid_t tracer = fork();
    REQUIRE(tracer >= 0);
    if (tracer == 0) {
        char ok = ptrace(PTRACE_SEIZE, child, nullptr, nullptr) == 0 ? 1 : 0;
        (void)!write(attached[1], &ok, 1);
        pause();
        _exit(0);
    }
    close(attached[1]);
    char ok = 0;
    (void)!read(attached[0], &ok, 1);
    close(attached[0]);
    auto start = Clock::now();
    int code = ok ? fake.engine->stop(SIGTERM, 60s) : -2;
    auto took = Clock::now() - start;
    kill_child(tracer, SIGKILL);
    waitpid(tracer, nullptr, 0);
    if (!ok) {
        WARN("ptrace is not permitted here; not checked");
        return;
    }
    CHECK(code == 0);
    // stop_timeout, then SIGKILL and a bounded wait: seconds, not forever.
    CHECK(took < 30s);
    fake.engine->drain_output();
    CHECK(fake.engine->log_contains("did not exit 5000 ms after SIGKILL"));
    CHECK(fake.engine->log_contains("leaving it behind"));
}

TEST_CASE("one restarting model with 300 waiting requests starves neither /health nor the others",
          "[fake][robustness]") {
    TempDir files;
    std::string model = files.write("model.gguf", "fake");
    // Slow loads: the restart window is long enough for all 300 requests to arrive.
    Engine engine(fake_model_config("m", model, "--fake-load-ms 4000") +
                  fake_model_config("other", model, "--fake-load-ms 0") + kQuickRestarts +
                  "models.m.queue_timeout = 60\n"
                  "models.m.autostart = true\nmodels.other.autostart = true\n");
    REQUIRE(engine.wait_health(200, 20s));
    pid_t child = admin_model(engine.port(), "m")["pid"].get<pid_t>();
    REQUIRE(child > 1);
    kill_child(child, SIGKILL);
    REQUIRE(engine.wait_log("model m: ready -> backoff", 10s));

    constexpr int kRequests = 300;
    std::atomic<int> ok{0}, refused_at_once{0}, other{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < kRequests; ++i) {
        clients.emplace_back([&] {
            try {
                auto r = http(engine.port(), "POST", "/v1/chat/completions", kChat, {}, 60s);
                if (r.status == 200) {
                    ++ok;
                } else if (r.status == 503 && r.body.find("(max_waiting)") != std::string::npos) {
                    ++refused_at_once;
                } else {
                    ++other;
                }
            } catch (const std::exception&) {
                ++other;
            }
        });
    }
    // The cap fills up (observed, not slept for), and everyone else is still served at once.
    auto deadline = Clock::now() + 10s;
    while (admin_model(engine.port(), "m")["waiting"] != 64 && Clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    auto waiting = admin_model(engine.port(), "m");
    CHECK(waiting["waiting"] == 64);
    CHECK(waiting["state"] != "ready");  // backoff or starting: still restarting
    auto started = Clock::now();
    auto health = http(engine.port(), "GET", "/health", "", {}, 5s);
    auto other_model =
        http(engine.port(), "POST", "/v1/chat/completions",
             R"({"model":"other","messages":[{"role":"user","content":"hi"}]})", {}, 5s);
    auto answered_in = Clock::now() - started;
    CHECK(health.status == 503);  // m is loading: not every model is ready
    CHECK(other_model.status == 200);
    CHECK(answered_in < 3s);  // without the cap: only after m's 4 s load
    for (auto& c : clients) c.join();
    CHECK(other == 0);
    CHECK(ok + refused_at_once == kRequests);
    CHECK(ok >= 64);  // the waiters are served once m is back
    CHECK(refused_at_once > 0);
}

TEST_CASE("a chunked upload cut short gets 400 and is not forwarded", "[fake][robustness]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    std::string answer = raw_exchange(
        fake.port(),
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "b\r\n{\"prompt\":\"\r\n");  // one chunk, then the client is gone: no last chunk
    CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(answer.find("before its last chunk") != std::string::npos);
    CHECK(http(fake.port(), "GET", "/fake/last-request").status == 404);  // nothing forwarded
}

TEST_CASE("a complete chunked upload reaches the child whole", "[fake][robustness]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    std::string answer = raw_exchange(fake.port(),
                                      "POST /fake/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n"
                                      "4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n");
    REQUIRE(answer.rfind("HTTP/1.1 200", 0) == 0);
    auto echoed = json::parse(answer.substr(answer.find("\r\n\r\n") + 4));
    CHECK(base64_decode(echoed["body_base64"].get<std::string>()) == "Wikipedia");
    CHECK(echoed["headers"]["Content-Length"] == "9");  // forwarded with a length, not chunked
}

TEST_CASE("a request admitted just before its child dies waits for the restart",
          "[fake][robustness]") {
    FakeEngine fake("--fake-load-ms 0", kQuickRestarts);
    REQUIRE(fake.engine->wait_health(200, 10s));
    // The child stops accepting at once but exits only later: the engine still thinks it ready,
    // admits the next request, and its connection is refused.
    REQUIRE(http(fake.port(), "POST", "/fake/die-slowly/500").status == 200);
    auto chat = http(fake.port(), "POST", "/v1/chat/completions", kChat);
    CHECK(chat.status == 200);
    CHECK(fake.engine->log_contains("waiting for the next child"));
}

TEST_CASE("/admin/models counts starts, restarts and the last exit", "[fake][robustness]") {
    FakeEngine fake("--fake-load-ms 0", kQuickRestarts);
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto first = admin_model(fake.port(), "m");
    CHECK(first["state"] == "ready");
    CHECK(first["starts"] == 1);
    CHECK(first["restarts"] == 0);
    CHECK(first["last_exit"] == "");
    pid_t child = first["pid"].get<pid_t>();
    REQUIRE(child > 1);
    CHECK(child == fake.child());
    kill_child(child, SIGKILL);
    auto deadline = Clock::now() + 10s;
    while (admin_model(fake.port(), "m")["ready_count"] != 2 && Clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    auto after = admin_model(fake.port(), "m");
    CHECK(after["ready_count"] == 2);
    CHECK(after["starts"] == 2);
    CHECK(after["restarts"] == 1);
    CHECK(after["last_exit"] == "killed by signal 9 (SIGKILL)");
    CHECK(after["pid"] != child);
    CHECK(http(fake.port(), "POST", "/admin/models").status == 404);
}

TEST_CASE("the admin API is refused on a listener that is not loopback", "[fake][robustness]") {
    TempDir files;
    std::string model = files.write("model.gguf", "fake");
    uint16_t port = gradatum::pick_child_port("127.0.0.1");
    Engine engine("server.listen = 0.0.0.0:" + std::to_string(port) + "\n" +
                  "server.allow_wildcard = true\n" +
                  fake_model_config("m", model, "--fake-load-ms 0"));
    auto deadline = Clock::now() + 10s;
    int status = 0;
    while (Clock::now() < deadline) {
        try {
            status = http(port, "GET", "/health", "", {}, 2s).status;
        } catch (const std::exception&) {
        }
        if (status == 200) break;
        std::this_thread::sleep_for(20ms);
    }
    REQUIRE(status == 200);
    auto admin = http(port, "GET", "/admin/models");
    CHECK(admin.status == 403);
    CHECK(admin.body.find("only on a loopback listener") != std::string::npos);
}

TEST_CASE("a stalled stderr neither blocks the engine nor, through a full pipe, its child",
          "[fake][robustness]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    // Nobody reads the engine's stderr now: its pipe fills, and a relay that wrote the child's
    // lines synchronously would block, then the child on its own stderr, then its answers.
    fake.engine->pause_output();
    for (int round = 0; round < 5; ++round) {
        CAPTURE(round);
        // 20,000 lines of 110 bytes: far past the 64 KiB of both pipes.
        auto spew = http(fake.port(), "POST", "/fake/spew/20000", "", {}, 10s);
        CHECK(spew.status == 200);
        auto chat = http(fake.port(), "POST", "/v1/chat/completions", kChat, {}, 10s);
        CHECK(chat.status == 200);
    }
    fake.engine->resume_output();
    // What could not be written was dropped, and the engine says how much.
    CHECK(fake.engine->wait_log("log line(s) dropped: stderr is not keeping up", 10s));
}
