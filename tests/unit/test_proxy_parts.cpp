// Proxy building blocks: the incremental chunked decoder and the hop-by-hop header rules.
#include <Poco/Net/MessageHeader.h>
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "proxy/chunked_decoder.hpp"
#include "proxy/header_rules.hpp"
#include "proxy/router.hpp"

using gradatum::proxy::ChunkedDecoder;
using gradatum::proxy::copy_end_to_end_headers;
using gradatum::proxy::is_hop_by_hop;

namespace {

// RFC 9112 7.1 example body: 4+5+14 payload bytes, the last chunk containing CRLFs of its own.
const std::string kBody = "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
const std::string kPayload = "Wikipedia in\r\n\r\nchunks.";

bool feed(ChunkedDecoder& d, const std::string& data, std::string& out) {
    return d.feed(data.data(), data.size(), out);
}

}  // namespace

// ---------------------------------------------------------------- ChunkedDecoder

TEST_CASE("chunked body decoded in one feed", "[proxy][chunked]") {
    ChunkedDecoder d;
    std::string out;
    CHECK_FALSE(d.done());
    CHECK(feed(d, kBody, out));
    CHECK(out == kPayload);
    CHECK(d.done());
}

TEST_CASE("chunked body decoded byte by byte", "[proxy][chunked]") {
    // The upstream may split its writes anywhere, even inside the size line or the CRLF.
    ChunkedDecoder d;
    std::string out;
    for (size_t i = 0; i < kBody.size(); ++i) {
        CAPTURE(i);
        REQUIRE(d.feed(&kBody[i], 1, out));
        REQUIRE(d.done() == (i + 1 == kBody.size()));
    }
    CHECK(out == kPayload);
}

TEST_CASE("chunked sizes: upper and lower case hex, larger chunks", "[proxy][chunked]") {
    ChunkedDecoder d;
    std::string out;
    const std::string big(0x1a, 'z');
    CHECK(feed(d, "1A\r\n" + big + "\r\n1a\r\n" + big + "\r\n0\r\n\r\n", out));
    CHECK(out == big + big);
    CHECK(d.done());
}

TEST_CASE("chunk extensions are ignored", "[proxy][chunked]") {
    ChunkedDecoder d;
    std::string out;
    CHECK(feed(d, "5;name=value\r\nhello\r\n6;a;b=\"q\"\r\n world\r\n0;last\r\n\r\n", out));
    CHECK(out == "hello world");
    CHECK(d.done());
}

TEST_CASE("trailer fields are read and not forwarded as payload", "[proxy][chunked]") {
    ChunkedDecoder d;
    std::string out;
    CHECK(feed(d, "3\r\nabc\r\n0\r\nX-Checksum: 123\r\nX-Other: 4\r\n", out));
    CHECK_FALSE(d.done());  // the trailer section is not over yet
    CHECK(feed(d, "\r\n", out));
    CHECK(out == "abc");
    CHECK(d.done());
}

TEST_CASE("bytes after the end of the body are not payload", "[proxy][chunked]") {
    ChunkedDecoder d;
    std::string out;
    CHECK(feed(d, kBody + "HTTP/1.1 200 OK\r\n", out));
    CHECK(out == kPayload);
    CHECK(d.done());
}

TEST_CASE("a body cut short is not done", "[proxy][chunked]") {
    // This is how the proxy tells a dropped upstream from a finished response.
    ChunkedDecoder d;
    std::string out;
    SECTION("cut in the middle of a chunk") {
        CHECK(feed(d, "a\r\n01234", out));
        CHECK(out == "01234");
        CHECK_FALSE(d.done());
    }
    SECTION("cut before the last chunk") {
        CHECK(feed(d, "3\r\nabc\r\n", out));
        CHECK(out == "abc");
        CHECK_FALSE(d.done());
    }
    SECTION("cut after the last chunk's size line") {
        CHECK(feed(d, "3\r\nabc\r\n0\r\n", out));
        CHECK_FALSE(d.done());
    }
    SECTION("cut inside a size line") {
        CHECK(feed(d, "3\r\nabc\r\n1", out));
        CHECK_FALSE(d.done());
    }
}

TEST_CASE("framing errors", "[proxy][chunked]") {
    ChunkedDecoder d;
    std::string out;
    SECTION("size that is not hex") {
        CHECK_FALSE(feed(d, "zz\r\nabc\r\n0\r\n\r\n", out));
    }
    SECTION("empty size line") {
        CHECK_FALSE(feed(d, "\r\nabc\r\n", out));
    }
    SECTION("hex digits then garbage") {
        CHECK_FALSE(feed(d, "3x\r\nabc\r\n", out));
    }
    SECTION("size too large") {
        CHECK_FALSE(feed(d, "10000000000000000\r\n", out));
    }
    SECTION("chunk longer than its size") {
        CHECK_FALSE(feed(d, "3\r\nabcd\r\n0\r\n\r\n", out));
    }
    SECTION("a size line longer than any sane one") {
        CHECK_FALSE(feed(d, "1;" + std::string(5000, 'e'), out));
    }
    CHECK_FALSE(d.done());
    // An error is final: later bytes are refused too.
    CHECK_FALSE(feed(d, "0\r\n\r\n", out));
    CHECK_FALSE(d.done());
}

// ---------------------------------------------------------------- header rules

TEST_CASE("is_hop_by_hop knows the connection-level headers", "[proxy][headers]") {
    for (const char* name : {"Connection", "connection", "Keep-Alive", "Transfer-Encoding",
                             "TRANSFER-ENCODING", "TE", "Trailer", "Upgrade", "Proxy-Authenticate",
                             "Proxy-Authorization", "Proxy-Connection", "Expect"}) {
        CAPTURE(name);
        CHECK(is_hop_by_hop(name));
    }
    for (const char* name : {"Content-Type", "Authorization", "Set-Cookie", "Trailers", "X-Te",
                             "Accept", "Cache-Control"}) {
        CAPTURE(name);
        CHECK_FALSE(is_hop_by_hop(name));
    }
}

namespace {

std::vector<std::pair<std::string, std::string>> entries(const Poco::Net::MessageHeader& h) {
    return {h.begin(), h.end()};
}

}  // namespace

TEST_CASE("copy_end_to_end_headers drops hop-by-hop and framing headers", "[proxy][headers]") {
    Poco::Net::MessageHeader from;
    from.add("Host", "127.0.0.1:8080");
    from.add("Content-Length", "42");
    from.add("Connection", "keep-alive, X-Hop-Secret");
    from.add("Keep-Alive", "timeout=5");
    from.add("Transfer-Encoding", "chunked");
    from.add("TE", "trailers");
    from.add("Trailer", "X-Checksum");
    from.add("Upgrade", "websocket");
    from.add("Proxy-Authorization", "Basic eA==");
    from.add("Proxy-Authenticate", "Basic");
    from.add("Proxy-Connection", "keep-alive");
    from.add("Expect", "100-continue");
    from.add("x-hop-secret", "named by Connection");
    from.add("Content-Type", "text/event-stream");
    from.add("Set-Cookie", "a=1");
    from.add("Set-Cookie", "b=2");
    from.add("X-Request-Id", "r-1");

    Poco::Net::MessageHeader to;
    copy_end_to_end_headers(from, to);
    using E = std::vector<std::pair<std::string, std::string>>;
    CHECK(entries(to) == E{{"Content-Type", "text/event-stream"},
                           {"Set-Cookie", "a=1"},
                           {"Set-Cookie", "b=2"},  // repeated headers stay repeated, in order
                           {"X-Request-Id", "r-1"}});
}

TEST_CASE("every Connection header's names are dropped", "[proxy][headers]") {
    Poco::Net::MessageHeader from;
    from.add("Connection", "X-A");
    from.add("connection", " x-b , ,X-C ");
    from.add("X-A", "1");
    from.add("X-B", "2");
    from.add("X-C", "3");
    from.add("X-D", "4");
    Poco::Net::MessageHeader to;
    copy_end_to_end_headers(from, to);
    using E = std::vector<std::pair<std::string, std::string>>;
    CHECK(entries(to) == E{{"X-D", "4"}});
}

TEST_CASE("copy_end_to_end_headers adds to what the target has", "[proxy][headers]") {
    Poco::Net::MessageHeader from;
    from.add("Via", "1.1 upstream");
    Poco::Net::MessageHeader to;
    to.add("Via", "1.1 client-proxy");
    copy_end_to_end_headers(from, to);
    using E = std::vector<std::pair<std::string, std::string>>;
    CHECK(entries(to) == E{{"Via", "1.1 client-proxy"}, {"Via", "1.1 upstream"}});
}

TEST_CASE("the decoder says how much of a feed was body", "[proxy][chunked]") {
    ChunkedDecoder d;
    std::string out;
    size_t used = 0;
    const std::string next = "GET /next HTTP/1.1\r\n";  // a pipelined request after the body
    CHECK(d.feed((kBody + next).data(), kBody.size() + next.size(), out, &used));
    CHECK(d.done());
    CHECK(used == kBody.size());
    CHECK(out == kPayload);
}

// ---------------------------------------------------------------- model_field

TEST_CASE("model_field finds the top-level model and nothing else", "[proxy][router]") {
    using gradatum::proxy::model_field;
    CHECK(model_field(R"({"model":"qwen","messages":[]})") == "qwen");
    // After a large field, and past nested objects that have a "model" of their own.
    CHECK(model_field(R"({"messages":[{"model":"inner","content":"x"}],"meta":{"model":"no"},)"
                      R"("model":"outer"})") == "outer");
    CHECK(model_field(R"({"model":"first","model":"second"})") == "first");
    CHECK(model_field(R"({"model":"a\"b\u00e9"})") == "a\"b\xc3\xa9");
    CHECK_FALSE(model_field(R"({"model":42})"));
    CHECK_FALSE(model_field(R"({"model":{"name":"x"}})"));
    CHECK_FALSE(model_field(R"({"messages":[]})"));
    CHECK_FALSE(model_field(R"(["model","x"])"));
    CHECK_FALSE(model_field("not json"));
    CHECK_FALSE(model_field(""));
    // Scanning stops once "model" and "stream" are both seen: what follows may be cut or broken;
    // a body broken before that names no model (see scan_body_fields).
    CHECK(model_field(R"({"model":"m","stream":true,"messages":[{"content":"unfinished)") == "m");
    CHECK_FALSE(model_field(R"({"model":"m","messages":[{"content":"unfinished)"));
}
