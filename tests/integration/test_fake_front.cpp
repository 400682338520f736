// The HTTP front against hostile and unusual clients: slowloris, malformed and ambiguous heads,
// limits, timeouts, a full house of workers, pipelining, 100-continue, keep-alive.
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "proxy/chunked_decoder.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

// A client connection that sends raw bytes and reads raw answers.
class Raw {
  public:
    explicit Raw(uint16_t port, std::chrono::milliseconds timeout = 10s)
        : socket_(Poco::Net::SocketAddress("127.0.0.1", port)) {
        socket_.setReceiveTimeout(
            Poco::Timespan(timeout.count() / 1000, timeout.count() % 1000 * 1000));
    }
    void send(const std::string& bytes) {
        socket_.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
    }
    void finish_sending() { socket_.shutdownSend(); }

    // Everything until the engine closes (or the timeout).
    std::string read_all() {
        std::string out = buffer_;
        buffer_.clear();
        char chunk[4096];
        try {
            int n;
            while ((n = socket_.receiveBytes(chunk, sizeof chunk)) > 0) out.append(chunk, n);
        } catch (const Poco::Exception&) {
        }
        return out;
    }

    struct Response {
        int status = 0;
        std::string head;
        std::string body;
    };
    // One response, framed by Content-Length (what the engine's own answers use) or chunks.
    // `to_head`: the answer to HEAD, which announces a length but has no body.
    Response read_response(bool to_head = false) {
        Response r;
        size_t end;
        while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
            if (!fill()) return r;
        }
        r.head = buffer_.substr(0, end + 4);
        buffer_.erase(0, end + 4);
        r.status = std::stoi(r.head.substr(9, 3));
        std::string lower = r.head;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (r.status == 100 || to_head) return r;
        auto cl = lower.find("content-length: ");
        if (cl != std::string::npos) {
            size_t length = std::stoul(lower.substr(cl + 16));
            while (buffer_.size() < length && fill()) {
            }
            r.body = buffer_.substr(0, length);
            buffer_.erase(0, std::min(length, buffer_.size()));
        } else if (lower.find("transfer-encoding: chunked") != std::string::npos) {
            gradatum::proxy::ChunkedDecoder decoder;
            while (!decoder.done()) {
                size_t used = 0;
                decoder.feed(buffer_.data(), buffer_.size(), r.body, &used);
                buffer_.erase(0, used);
                if (!decoder.done() && !fill()) break;
            }
        }
        return r;
    }

    bool closed_by_peer() {
        char c;
        try {
            return socket_.receiveBytes(&c, 1) == 0;
        } catch (const Poco::Exception&) {
            return true;  // reset
        }
    }

  private:
    bool fill() {
        char chunk[4096];
        try {
            int n = socket_.receiveBytes(chunk, sizeof chunk);
            if (n <= 0) return false;
            buffer_.append(chunk, n);
            return true;
        } catch (const Poco::Exception&) {
            return false;
        }
    }
    Poco::Net::StreamSocket socket_;
    std::string buffer_;
};

std::string error_code(const std::string& body) {
    auto j = json::parse(body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"]["code"].get<std::string>() : "";
}

long rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

}  // namespace

TEST_CASE("1,000 slowloris connections do not delay a normal request", "[fake][front]") {
    rlimit files{};
    getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
    if (files.rlim_cur < 1100) {
        WARN("RLIMIT_NOFILE " << files.rlim_cur << " is too low for 1,000 connections");
        return;
    }
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    constexpr int kClients = 1000;
    std::vector<std::unique_ptr<Poco::Net::StreamSocket>> slow;
    for (int i = 0; i < kClients; ++i) {
        slow.push_back(std::make_unique<Poco::Net::StreamSocket>(
            Poco::Net::SocketAddress("127.0.0.1", fake.port())));
        slow.back()->sendBytes("P", 1);
    }
    // One byte a second from each of them, for 3 s; a normal request in the middle of it.
    const std::string head = "OST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n";
    std::chrono::duration<double, std::milli> normal{0};
    int normal_status = 0;
    long peak_rss = 0;
    for (int second = 0; second < 3; ++second) {
        for (auto& s : slow) s->sendBytes(&head[second], 1);
        if (second == 1) {
            auto start = Clock::now();
            normal_status = http(fake.port(), "POST", "/v1/chat/completions", kChat, {}, 5s).status;
            normal = Clock::now() - start;
        }
        peak_rss = std::max(peak_rss, rss_kib(fake.engine->pid()));
        std::this_thread::sleep_for(1s);  // the pace of the attack, not synchronisation
    }
    CHECK(normal_status == 200);
    const double normal_ms = normal.count();
    CAPTURE(normal_ms);
    CHECK(normal < 1s);
    CAPTURE(peak_rss);
    CHECK(peak_rss > 0);
    CHECK(peak_rss < 200 * 1024);
    slow.clear();
    CHECK(http(fake.port(), "GET", "/health").status == 200);
}

TEST_CASE("a head that does not arrive in time gets 408", "[fake][front]") {
    FakeEngine fake("--fake-load-ms 0", "server.header_timeout = 0.3\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    Raw raw(fake.port());
    raw.send("GET /health HTTP/1.1\r\nHo");
    auto answer = raw.read_response();
    CHECK(answer.status == 408);
    CHECK(error_code(answer.body) == "request_timeout");
    CHECK(answer.body.find("server.header_timeout") != std::string::npos);
    // An idle connection (no byte sent) is closed quietly after the keep-alive timeout instead.
}

TEST_CASE("a body that stalls gets 408", "[fake][front]") {
    FakeEngine fake("--fake-load-ms 0", "server.client_idle_timeout = 0.3\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    Raw raw(fake.port());
    raw.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"prompt\"");
    auto answer = raw.read_response();
    CHECK(answer.status == 408);
    CHECK(error_code(answer.body) == "request_timeout");
    CHECK(http(fake.port(), "GET", "/fake/last-request").status == 404);  // nothing forwarded
}

TEST_CASE("heads past the size or field limits get 431", "[fake][front]") {
    FakeEngine fake("--fake-load-ms 0",
                    "server.max_header_bytes = 2048\nserver.max_headers = 10\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    {
        Raw raw(fake.port());
        raw.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(3000, 'a') +
                 "\r\n\r\n");
        auto answer = raw.read_response();
        CHECK(answer.status == 431);
        CHECK(error_code(answer.body) == "headers_too_large");
    }
    {
        std::string many = "GET /health HTTP/1.1\r\nHost: x\r\n";
        for (int i = 0; i < 11; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
        Raw raw(fake.port());
        raw.send(many + "\r\n");
        auto answer = raw.read_response();
        CHECK(answer.status == 431);
        CHECK(answer.body.find("server.max_headers") != std::string::npos);
    }
    CHECK(http(fake.port(), "GET", "/health").status == 200);
}

TEST_CASE("ambiguous framing gets 400, the connection closes, and nothing reaches the child",
          "[fake][front][smuggling]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    const std::string start = "POST /v1/completions HTTP/1.1\r\nHost: x\r\n";
    const std::vector<std::string> heads = {
        start + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        start + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
        start + "Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcd",
        start + "Content-Length: -4\r\n\r\nabcd",
        start + "Content-Length: 18446744073709551617\r\n\r\nabcd",
        start + "Content-Length: 4x\r\n\r\nabcd",
        start + "Transfer-Encoding: gzip\r\n\r\nabcd",
        start + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        start + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        start + "X-Folded: a\r\n b\r\nContent-Length: 4\r\n\r\nabcd",
        start + "Content-Length : 4\r\n\r\nabcd",
    };
    for (const auto& head : heads) {
        CAPTURE(head);
        Raw raw(fake.port());
        raw.send(head);
        auto answer = raw.read_response();
        CHECK(answer.status == 400);
        CHECK(error_code(answer.body) == "bad_request");
        CHECK(answer.head.find("Connection: close") != std::string::npos);
        CHECK(raw.closed_by_peer());
    }
    CHECK(http(fake.port(), "GET", "/fake/last-request").status == 404);
}

TEST_CASE("30 kinds of malformed requests are refused, and the engine still serves",
          "[fake][front]") {
    FakeEngine fake("--fake-load-ms 0", "server.max_header_bytes = 8192\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    const std::string nul(1, '\0');
    const std::vector<std::string> requests = {
        "GET /\r\n\r\n",                                     // HTTP/0.9
        "GET\r\n\r\n",                                       // no target
        "\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",    // too many empty lines first
        "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",           // a fourth word
        "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",                // two spaces
        "GET / HTTP/9.9\r\nHost: x\r\n\r\n",                 // version
        "GET / HTTP/1\r\nHost: x\r\n\r\n",                   // short version
        "GET / http/1.1\r\nHost: x\r\n\r\n",                 // lower-case protocol
        "G@T / HTTP/1.1\r\nHost: x\r\n\r\n",                 // bad method character
        "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",         // absolute form
        "GET * HTTP/1.1\r\nHost: x\r\n\r\n",                 // asterisk form
        "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",              // space in the target
        "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",      // raw UTF-8 in the path
        "GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",         // invalid UTF-8 in the path
        "GET /a" + nul + "b HTTP/1.1\r\nHost: x\r\n\r\n",    // NUL in the target
        "GET / HTTP/1.1\r\nHost: x" + nul + "\r\n\r\n",      // NUL in a value
        "GET / HTTP/1.1\r\nHo" + nul + "st: x\r\n\r\n",      // NUL in a name
        "GET / HTTP/1.1\nHost: x\n\n",                       // bare LF
        "GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n",           // stray CR
        "GET / HTTP/1.1\r\nHost x\r\n\r\n",                  // no colon
        "GET / HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n",          // empty name
        "GET / HTTP/1.1\r\nBad Name: x\r\nHost: x\r\n\r\n",  // space in a name
        "GET / HTTP/1.1\r\n\r\n",                            // no Host
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",      // two Hosts
        "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(9000, 'h') + "\r\n\r\n",  // huge header
        "GET / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n",                     // expectation
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",          // chunked in 1.0
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  // bad chunk size
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",  // truncated
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",  // truncated length
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",                 // a TLS ClientHello
    };
    int refused = 0;
    for (const auto& request : requests) {
        CAPTURE(request);
        Raw raw(fake.port(), 5s);
        raw.send(request);
        raw.finish_sending();
        std::string answer = raw.read_all();
        bool error_answer =
            answer.rfind("HTTP/1.1 4", 0) == 0 || answer.rfind("HTTP/1.1 5", 0) == 0;
        // Either an error status or, for what is not HTTP at all, a closed connection.
        CHECK((error_answer || answer.empty()));
        CHECK(answer.rfind("HTTP/1.1 2", 0) != 0);
        if (error_answer) {
            CHECK_FALSE(error_code(answer.substr(answer.find("\r\n\r\n") + 4)).empty());
        }
        ++refused;
    }
    CHECK(refused >= 30);
    CHECK(http(fake.port(), "GET", "/fake/last-request").status == 404);  // none reached the child
    CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
}

TEST_CASE("when every request thread is busy, a new request gets 503 at once", "[fake][front]") {
    FakeEngine fake("--fake-load-ms 0 --fake-stream-events 100 --fake-stream-interval-ms 50",
                    "server.threads = 4\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    std::vector<std::unique_ptr<Background>> streams;
    std::vector<std::unique_ptr<Flag>> started;
    for (int i = 0; i < 4; ++i) {
        started.push_back(std::make_unique<Flag>());
        Flag* flag = started.back().get();
        streams.push_back(std::make_unique<Background>([&fake, flag] {
            stream(fake.port(), "/v1/chat/completions", kStreamChat, 30s, 0,
                   [flag](size_t) { flag->raise(); });
        }));
    }
    for (auto& flag : started) REQUIRE(flag->wait(10s));
    auto start = Clock::now();
    auto busy = http(fake.port(), "GET", "/health", "", {}, 5s);
    CHECK(Clock::now() - start < 1s);
    CHECK(busy.status == 503);
    CHECK(error_code(busy.body) == "server_busy");
    CHECK(busy.header("retry-after") == "1");
    for (auto& s : streams) s->join();
    CHECK(http(fake.port(), "GET", "/health").status == 200);
}

TEST_CASE("pipelined requests are answered in order", "[fake][front]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    Raw raw(fake.port());
    raw.send(
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /fake/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
        "POST /fake/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "6\r\nsecond\r\n0\r\n\r\n"
        "GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto health = raw.read_response();
    auto first = raw.read_response();
    auto second = raw.read_response();
    auto last = raw.read_response();
    CHECK(health.status == 200);
    CHECK(health.body == R"({"status":"ok"})");
    REQUIRE(first.status == 200);
    CHECK(base64_decode(json::parse(first.body)["body_base64"].get<std::string>()) == "first");
    REQUIRE(second.status == 200);
    CHECK(base64_decode(json::parse(second.body)["body_base64"].get<std::string>()) == "second");
    CHECK(last.status == 404);  // the fake's answer: it reached the child, in its turn
    CHECK(raw.closed_by_peer());
}

TEST_CASE("Expect: 100-continue gets its interim answer before the body is sent", "[fake][front]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    Raw raw(fake.port());
    raw.send(
        "POST /fake/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    auto interim = raw.read_response();
    CHECK(interim.status == 100);
    raw.send("body");
    auto answer = raw.read_response();
    REQUIRE(answer.status == 200);
    CHECK(base64_decode(json::parse(answer.body)["body_base64"].get<std::string>()) == "body");
}

TEST_CASE("one keep-alive connection carries many requests, HEAD has no body", "[fake][front]") {
    FakeEngine fake("--fake-load-ms 0");
    REQUIRE(fake.engine->wait_health(200, 10s));
    Raw raw(fake.port());
    for (int i = 0; i < 5; ++i) {
        raw.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                 std::to_string(kChat.size()) + "\r\n\r\n" + kChat);
        auto answer = raw.read_response();
        CHECK(answer.status == 200);
    }
    raw.send("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    auto head = raw.read_response(/*to_head=*/true);
    CHECK(head.status == 200);
    CHECK(head.head.find("Content-Length: 15") != std::string::npos);
    // No body after HEAD's answer: the next bytes are the GET's answer.
    auto get = raw.read_response();
    CHECK(get.status == 200);
    CHECK(get.body == R"({"status":"ok"})");
}
