// The engine in front of the fake llama-server: forwarding, streaming, readiness, spawning.
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <signal.h>
#include <sys/stat.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <thread>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

std::vector<std::string> read_nul_separated(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> out;
    std::string item;
    while (std::getline(in, item, '\0')) out.push_back(item);
    return out;
}

}  // namespace

TEST_CASE("request body reaches the child byte for byte, query string kept", "[fake][proxy]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    // Odd spacing, unicode and escapes: a proxy that re-serialises JSON would change these.
    const std::string body =
        "{ \"model\" : \"m\",\n  \"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9 \xc3\xa9 "
        "\\\"q\\\"\"}] ,"
        "\"n\":1.50}";
    auto sent = http(fake.port(), "POST", "/v1/chat/completions?a=1&b=%20x", body,
                     {{"Content-Type", "application/json"}});
    REQUIRE(sent.status == 200);
    auto last = http(fake.port(), "GET", "/fake/last-request");
    REQUIRE(last.status == 200);
    auto record = json::parse(last.body);
    CHECK(base64_decode(record["body_base64"]) == body);
    CHECK(record["uri"] == "/v1/chat/completions?a=1&b=%20x");
    CHECK(record["method"] == "POST");
}

TEST_CASE("hop-by-hop headers are dropped, end-to-end headers pass both ways", "[fake][proxy]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto echo = http(fake.port(), "GET", "/fake/echo?x=1", "",
                     {{"X-Custom", "kept"},
                      {"Proxy-Authorization", "secret"},
                      {"TE", "trailers"},
                      {"Upgrade", "websocket"},
                      {"Keep-Alive", "timeout=5"}});
    REQUIRE(echo.status == 200);
    auto seen = json::parse(echo.body)["headers"];
    auto has = [&](const std::string& name) {
        for (auto& [key, value] : seen.items()) {
            if (Poco::icompare(key, name) == 0) return true;
        }
        return false;
    };
    CHECK(has("X-Custom"));
    CHECK_FALSE(has("Proxy-Authorization"));
    CHECK_FALSE(has("TE"));
    CHECK_FALSE(has("Upgrade"));
    CHECK_FALSE(has("Keep-Alive"));
    CHECK(json::parse(echo.body)["uri"] == "/fake/echo?x=1");
    // Repeated response headers stay repeated; single ones stay single.
    CHECK(echo.count("x-fake-multi") == 2);
    CHECK(echo.count("date") == 1);
}

TEST_CASE("SSE events reach the client as the child sends them", "[fake][stream]") {
    // Tokens 200 ms apart, each stamped by the fake with the moment it sent it.
    FakeEngine fake(
        "--fake-load-ms 0 --fake-stream-events 5 --fake-stream-interval-ms 200 "
        "--fake-stamp-events");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto result = stream(fake.port(), "/v1/chat/completions", kStreamChat);
    REQUIRE(result.status == 200);
    CHECK(result.header("content-type").find("text/event-stream") == 0);
    REQUIRE(result.complete);
    REQUIRE(result.events.size() == 7);  // 5 tokens, the closing chunk, [DONE]
    CHECK(result.events.back() == "data: [DONE]");
    std::vector<Clock::time_point> sent;
    for (size_t i = 0; i < 6; ++i) {
        REQUIRE(result.events[i].rfind("data: {", 0) == 0);
        auto ns = json::parse(result.events[i].substr(6))["fake_sent_ns"].get<long long>();
        sent.push_back(Clock::time_point(
            std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns))));
    }
    // Not batched: each token reached the client before the fake sent the next one (the last
    // token is followed at once by the closing chunk, so it is left out). A proxy that held
    // events back, or the whole stream, delivers them only after later ones were sent. Measured
    // against the fake's own clock, a busy machine fails this only by delaying one event 200 ms.
    auto ms = [](Clock::duration d) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    for (size_t i = 0; i < 4; ++i) {
        INFO("token " << i << " arrived " << ms(result.arrived[i] - sent[i])
                      << " ms after it was sent; the next one was sent after "
                      << ms(sent[i + 1] - sent[i]) << " ms");
        CHECK(result.arrived[i] >= sent[i]);  // the fake and the test read the same clock
        CHECK(result.arrived[i] < sent[i + 1]);
    }
}

TEST_CASE("503 with an OpenAI error while loading, then 200", "[fake][readiness]") {
    FakeEngine fake("--fake-load-ms 1500");
    REQUIRE(fake.engine->wait_log("starting", 5s));
    auto health = http(fake.port(), "GET", "/health");
    CHECK(health.status == 503);
    CHECK(json::parse(health.body)["error"]["message"] == "Loading model");
    auto early = http(fake.port(), "POST", "/v1/chat/completions", kChat);
    CHECK(early.status == 503);
    CHECK_FALSE(early.header("retry-after").empty());
    auto error = json::parse(early.body)["error"];
    CHECK(error["code"] == "model_loading");
    CHECK(error["type"] == "unavailable_error");
    CHECK(error["message"].is_string());
    REQUIRE(fake.engine->wait_health(200, 10s));
    CHECK(json::parse(http(fake.port(), "GET", "/health").body)["status"] == "ok");
    CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
}

TEST_CASE("a model path with spaces, quotes and $ reaches argv as one argument", "[fake][spawn]") {
    TempDir files;
    std::string model = files.write("my model 'single' \"double\" $HOME `x`.gguf", "x");
    std::string argv_file = files.path() + "/argv";
    Engine engine(fake_model_config("m", model, "--fake-load-ms 0 --fake-argv-file " + argv_file));
    REQUIRE(engine.wait_health(200, 10s));
    auto argv = read_nul_separated(argv_file);
    auto it = std::find(argv.begin(), argv.end(), "--model");
    REQUIRE(it != argv.end());
    REQUIRE(it + 1 != argv.end());
    CHECK(*(it + 1) == model);
}

TEST_CASE("after SIGTERM the engine exits 0 and no child is left", "[fake][lifecycle]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto children = children_of(fake.engine->pid());
    REQUIRE(children.size() == 1);
    CHECK(fake.engine->stop(SIGTERM) == 0);
    CHECK(wait_all_gone(children, 2s));
}

TEST_CASE("a child that exits while loading is noticed at once", "[fake][readiness]") {
    FakeEngine fake("--fake-exit-at-start 1", "models.m.ready_timeout = 600\n");
    auto start = Clock::now();
    REQUIRE(fake.engine->wait_log("while loading", 5s));
    CHECK(Clock::now() - start < 3s);
    // Its last stderr lines are in the log.
    CHECK(fake.engine->log_contains("failed to load model"));
}

TEST_CASE("a child killed mid-stream ends the client's stream with an error event",
          "[fake][stream]") {
    FakeEngine fake(
        "--fake-load-ms 0 --fake-stream-events 50 --fake-stream-interval-ms 20 "
        "--fake-crash-after-events 3");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto start = Clock::now();
    auto result = stream(fake.port(), "/v1/chat/completions", kStreamChat, 10s);
    CHECK(Clock::now() - start < 5s);
    REQUIRE(result.status == 200);
    REQUIRE(result.events.size() >= 2);
    CHECK(result.events.size() <= 5);
    const std::string& last = result.events.back();
    REQUIRE(last.rfind("data: ", 0) == 0);
    auto error = json::parse(last.substr(6));
    CHECK(error["error"]["code"] == "upstream_failed");
    CHECK(error["error"]["message"].get<std::string>().find("'m'") != std::string::npos);
    CHECK(result.complete);  // the engine closed the stream properly after the error event
}

TEST_CASE("a client that leaves mid-stream releases the upstream request", "[fake][stream]") {
    FakeEngine fake(
        "--fake-load-ms 0 --metrics --fake-stream-events 200 "
        "--fake-stream-interval-ms 50");
    REQUIRE(fake.engine->wait_health(200, 10s));
    auto result = stream(fake.port(), "/v1/chat/completions", kStreamChat, 10s, 2);
    REQUIRE(result.events.size() == 2);
    // The fake counts requests it is still processing; the engine must let go within 3 s.
    const uint16_t direct = child_port(*fake.engine);
    const std::string key = child_api_key(fake.child());
    CHECK(wait_until([&] { return requests_processing(direct, key) == 0; }, 3s, 50ms));
}

TEST_CASE("64 concurrent streams are all served", "[fake][stream][load]") {
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 20 --fake-stream-interval-ms 50");
    REQUIRE(fake.engine->wait_health(200, 10s));
    std::atomic<int> complete{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 64; ++i) {
        clients.emplace_back([&] {
            try {
                auto r = stream(fake.port(), "/v1/chat/completions", kStreamChat, 30s);
                if (r.complete && !r.events.empty() && r.events.back() == "data: [DONE]")
                    ++complete;
            } catch (const std::exception&) {
            }
        });
    }
    for (auto& t : clients) t.join();
    CHECK(complete == 64);
}

TEST_CASE("an exec failure is reported as 'could not start'", "[fake][spawn]") {
    TempDir files;
    std::string model = files.write("model.gguf", "x");
    // Executable bit, but no valid format: execve fails with ENOEXEC.
    std::string bogus = files.write("not-a-binary", "just text\n");
    chmod(bogus.c_str(), 0755);
    std::string config =
        "models.m.backend = llama_server\nmodels.m.llama_server.binary = " + bogus +
        "\nmodels.m.llama_server.model = " + model + "\n";
    Engine engine(config);
    REQUIRE(engine.wait_log("could not start " + bogus, 5s));
    CHECK(engine.log_contains("Exec format error"));
    // The engine itself stays up and says why the model is unavailable.
    auto answer = http(engine.port(), "POST", "/v1/chat/completions", kChat);
    CHECK(answer.status == 503);
}

TEST_CASE("api_key reaches the child by environment, never argv, and the engine sends it",
          "[fake][proxy]") {
    TempDir files;
    std::string model = files.write("model.gguf", "x");
    std::string argv_file = files.path() + "/argv";
    Engine engine(fake_model_config("m", model, "--fake-load-ms 0 --fake-argv-file " + argv_file) +
                  "models.m.llama_server.api_key = s3cret-key\n");
    REQUIRE(engine.wait_health(200, 10s));
    for (const auto& arg : read_nul_separated(argv_file)) {
        CHECK(arg.find("s3cret-key") == std::string::npos);
    }
    // The child demands the key; the engine adds it to what it forwards.
    CHECK(http(child_port(engine), "POST", "/v1/chat/completions", kChat).status == 401);
    CHECK(http(engine.port(), "POST", "/v1/chat/completions", kChat).status == 200);
}

TEST_CASE("a request body over server.max_body_mb gets 413", "[fake][proxy]") {
    FakeEngine fake("--fake-load-ms 0", "server.max_body_mb = 1\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    std::string big(1024 * 1024 + 1, 'x');
    auto answer = http(fake.port(), "POST", "/v1/chat/completions", big);
    CHECK(answer.status == 413);
    CHECK(answer.reason == "Request Entity Too Large");
    CHECK(json::parse(answer.body)["error"]["message"].get<std::string>().find(
              "server.max_body_mb") != std::string::npos);
    std::string fits(1024 * 1024, 'x');
    CHECK(http(fake.port(), "POST", "/v1/chat/completions", fits).status == 500);  // bad JSON
}

TEST_CASE("an HTTP/1.0 client gets the stream without chunked encoding", "[fake][stream]") {
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 3 --fake-stream-interval-ms 10");
    REQUIRE(fake.engine->wait_health(200, 10s));
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", fake.port()));
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    std::string request = "POST /v1/chat/completions HTTP/1.0\r\nContent-Length: " +
                          std::to_string(kStreamChat.size()) + "\r\n\r\n" + kStreamChat;
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    std::string answer;
    char buffer[4096];
    int n;
    while ((n = socket.receiveBytes(buffer, sizeof buffer)) > 0) answer.append(buffer, n);
    std::string head = Poco::toLower(answer.substr(0, answer.find("\r\n\r\n")));
    CHECK(head.find("transfer-encoding") == std::string::npos);
    CHECK(answer.find("data: [DONE]\n\n") != std::string::npos);
}

TEST_CASE("a body that ends before its Content-Length gets 400 and is not forwarded",
          "[fake][proxy]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", fake.port()));
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    std::string request =
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"prompt\":";
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    socket.shutdownSend();  // the client gives up mid-upload
    std::string answer;
    char buffer[4096];
    int n;
    while ((n = socket.receiveBytes(buffer, sizeof buffer)) > 0) answer.append(buffer, n);
    CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(http(fake.port(), "GET", "/fake/last-request").status == 404);  // nothing forwarded
}
