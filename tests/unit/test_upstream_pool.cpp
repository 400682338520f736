// The upstream pool's rules, on real loopback connections to a listening socket of the test's
// own (the kernel completes the handshakes; nothing needs to accept unless a test says so).
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "proxy/upstream_pool.hpp"
#include "proxy/upstream_session.hpp"

using gradatum::proxy::ConnectError;
using gradatum::proxy::UpstreamConnection;
using gradatum::proxy::UpstreamPool;
using gradatum::proxy::UpstreamSettings;
using namespace std::chrono_literals;

namespace {

struct Listener {
    Poco::Net::ServerSocket socket{Poco::Net::SocketAddress("127.0.0.1", 0), 64};
    uint16_t port() const { return socket.address().port(); }
};

std::unique_ptr<UpstreamConnection> connect(uint16_t port, uint64_t generation) {
    auto c = UpstreamConnection::open("127.0.0.1", port, 2000ms, 2000ms, 500ms);
    c->generation = generation;
    return c;
}

UpstreamSettings settings(size_t keepalive, std::chrono::milliseconds max_idle = 4000ms) {
    UpstreamSettings s;
    s.keepalive = keepalive;
    s.max_idle = max_idle;
    return s;
}

}  // namespace

TEST_CASE("upstream pool: a connection given back is the one taken next", "[proxy][pool]") {
    Listener l;
    UpstreamPool pool(settings(4));
    CHECK(pool.take("m", 1, "127.0.0.1", l.port()) == nullptr);  // nothing yet
    auto c = connect(l.port(), 1);
    UpstreamConnection* raw = c.get();
    pool.give_back("m", std::move(c));
    CHECK(pool.stats().idle == 1);
    auto again = pool.take("m", 1, "127.0.0.1", l.port());
    CHECK(again.get() == raw);
    CHECK(pool.stats().reused == 1);
    CHECK(pool.stats().idle == 0);
    // Another model's list is its own.
    pool.give_back("m", std::move(again));
    CHECK(pool.take("other", 1, "127.0.0.1", l.port()) == nullptr);
}

TEST_CASE("upstream pool: a newer child generation empties the list", "[proxy][pool]") {
    Listener l;
    UpstreamPool pool(settings(4));
    pool.take("m", 1, "127.0.0.1", l.port());
    pool.give_back("m", connect(l.port(), 1));
    pool.give_back("m", connect(l.port(), 1));
    // Same host and port (a restarted child may get the old port): still never lent.
    CHECK(pool.take("m", 2, "127.0.0.1", l.port()) == nullptr);
    CHECK(pool.stats().idle == 0);
    CHECK(pool.stats().discarded == 2);
    // A connection of the old generation that comes back late is not kept either.
    pool.give_back("m", connect(l.port(), 1));
    CHECK(pool.stats().idle == 0);
    pool.give_back("m", connect(l.port(), 2));
    CHECK(pool.stats().idle == 1);
}

TEST_CASE("upstream pool: a request admitted to an older generation takes nothing",
          "[proxy][pool]") {
    Listener l;
    UpstreamPool pool(settings(4));
    pool.take("m", 5, "127.0.0.1", l.port());
    auto c = connect(l.port(), 5);
    UpstreamConnection* raw = c.get();
    pool.give_back("m", std::move(c));
    CHECK(pool.take("m", 4, "127.0.0.1", l.port()) == nullptr);
    CHECK(pool.take("m", 5, "127.0.0.1", l.port()).get() == raw);  // still there for gen 5
}

TEST_CASE("upstream pool: at most `keepalive` idle connections, none with 0", "[proxy][pool]") {
    Listener l;
    SECTION("bounded") {
        UpstreamPool pool(settings(2));
        pool.take("m", 1, "127.0.0.1", l.port());
        for (int i = 0; i < 3; ++i) pool.give_back("m", connect(l.port(), 1));
        CHECK(pool.stats().idle == 2);
        CHECK(pool.stats().kept == 2);
    }
    SECTION("disabled") {
        UpstreamPool pool(settings(0));
        pool.give_back("m", connect(l.port(), 0));
        CHECK(pool.stats().idle == 0);
        CHECK(pool.take("m", 0, "127.0.0.1", l.port()) == nullptr);
    }
}

TEST_CASE("upstream pool: closed, expired or elsewhere: not lent", "[proxy][pool]") {
    Listener l;
    SECTION("closed by the server") {
        UpstreamPool pool(settings(4));
        pool.take("m", 1, "127.0.0.1", l.port());
        pool.give_back("m", connect(l.port(), 1));
        Poco::Net::StreamSocket accepted = l.socket.acceptConnection();
        accepted.close();  // FIN to the pooled connection
        std::this_thread::sleep_for(50ms);
        CHECK(pool.take("m", 1, "127.0.0.1", l.port()) == nullptr);
        CHECK(pool.stats().discarded == 1);
    }
    SECTION("stray bytes from the server") {
        UpstreamPool pool(settings(4));
        pool.take("m", 1, "127.0.0.1", l.port());
        pool.give_back("m", connect(l.port(), 1));
        Poco::Net::StreamSocket accepted = l.socket.acceptConnection();
        accepted.sendBytes("x", 1);
        std::this_thread::sleep_for(50ms);
        CHECK(pool.take("m", 1, "127.0.0.1", l.port()) == nullptr);
    }
    SECTION("idle too long") {
        UpstreamPool pool(settings(4, 50ms));
        pool.take("m", 1, "127.0.0.1", l.port());
        pool.give_back("m", connect(l.port(), 1));
        std::this_thread::sleep_for(100ms);
        CHECK(pool.take("m", 1, "127.0.0.1", l.port()) == nullptr);
    }
    SECTION("another host:port") {
        Listener other;
        UpstreamPool pool(settings(4));
        pool.take("m", 1, "127.0.0.1", l.port());
        pool.give_back("m", connect(l.port(), 1));
        CHECK(pool.take("m", 1, "127.0.0.1", other.port()) == nullptr);
    }
}

TEST_CASE("upstream pool: the reaper closes expired idle connections", "[proxy][pool]") {
    Listener l;
    UpstreamPool pool(settings(4, 100ms));
    pool.take("m", 1, "127.0.0.1", l.port());
    pool.give_back("m", connect(l.port(), 1));
    REQUIRE(pool.stats().idle == 1);
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (pool.stats().idle > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    CHECK(pool.stats().idle == 0);
}

TEST_CASE("upstream connection: refused and timed-out connects are told apart", "[proxy][pool]") {
    SECTION("refused: nothing listens") {
        uint16_t closed_port;
        {
            Listener gone;
            closed_port = gone.port();
        }
        try {
            UpstreamConnection::open("127.0.0.1", closed_port, 1000ms, 1000ms, 500ms);
            FAIL("connected to a closed port");
        } catch (const ConnectError& e) {
            CHECK(e.kind == ConnectError::Kind::refused);
        }
    }
    SECTION("timed out: a listener that accepts nothing and whose queue is full") {
        Poco::Net::ServerSocket full(Poco::Net::SocketAddress("127.0.0.1", 0), 1);
        std::vector<std::unique_ptr<UpstreamConnection>> queued;
        bool timed_out = false;
        for (int i = 0; i < 100 && !timed_out; ++i) {
            auto started = std::chrono::steady_clock::now();
            try {
                queued.push_back(UpstreamConnection::open("127.0.0.1", full.address().port(), 200ms,
                                                          1000ms, 500ms));
            } catch (const ConnectError& e) {
                CHECK(e.kind == ConnectError::Kind::timed_out);
                CHECK(std::chrono::steady_clock::now() - started >= 150ms);
                timed_out = true;
            }
        }
        CHECK(timed_out);
    }
}
