// The forwarder's building blocks for passing responses on: the chunked relay (framing followed,
// bytes passed verbatim), the response-head parser, and the header rules it uses.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "proxy/chunked_decoder.hpp"
#include "proxy/header_rules.hpp"
#include "proxy/response_head.hpp"

using gradatum::proxy::ChunkedRelay;
using gradatum::proxy::ConnectionTokens;
using gradatum::proxy::HeadParse;
using gradatum::proxy::is_dropped;
using gradatum::proxy::parse_response_head;
using gradatum::proxy::ResponseHead;

namespace {

// RFC 9112 7.1 example body, then what a relay passes on: everything up to the last chunk, and
// its own last chunk in place of the child's (extensions and trailers dropped).
const std::string kBody =
    "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0;last\r\nX-Sum: 1\r\n\r\n";
const std::string kPassed = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n";

// Feeds `body` in pieces of `step` bytes; returns what the relay passes on.
std::string relay_in_steps(ChunkedRelay& relay, const std::string& body, size_t step) {
    std::string out;
    for (size_t i = 0; i < body.size(); i += step) {
        std::string piece = body.substr(i, step);
        REQUIRE(relay.scan(piece.data(), piece.size()));
        out += relay.held();
        out.append(piece.data(), relay.committed());
        if (relay.done()) {
            out += ChunkedRelay::kLastChunk;
            break;
        }
    }
    return out;
}

HeadParse parse(const std::string& text, ResponseHead& head, size_t& size) {
    std::string why;
    return parse_response_head(text.data(), text.size(), head, size, why);
}

}  // namespace

// ---------------------------------------------------------------- ChunkedRelay

TEST_CASE("relay: a whole body passes verbatim up to its last chunk", "[proxy][relay]") {
    ChunkedRelay relay;
    CHECK(relay_in_steps(relay, kBody, kBody.size()) == kPassed + "0\r\n\r\n");
    CHECK(relay.done());
    CHECK(relay.used() == kBody.size());
}

TEST_CASE("relay: reads split anywhere give the same bytes", "[proxy][relay]") {
    for (size_t step = 1; step <= 7; ++step) {
        CAPTURE(step);
        ChunkedRelay relay;
        CHECK(relay_in_steps(relay, kBody, step) == kPassed + "0\r\n\r\n");
        CHECK(relay.done());
    }
}

TEST_CASE("relay: a size line cut by a read is held back until it is whole", "[proxy][relay]") {
    ChunkedRelay relay;
    std::string a = "3\r\nabc\r\n1";  // "1" may become "10": not passed on yet
    REQUIRE(relay.scan(a.data(), a.size()));
    CHECK(relay.held().empty());
    CHECK(relay.committed() == 8);
    std::string b = "0\r\n0123456789\r\n";
    REQUIRE(relay.scan(b.data(), b.size()));
    CHECK(relay.held() == "1");
    CHECK(relay.committed() == b.size());
    CHECK_FALSE(relay.done());
}

TEST_CASE("relay: bytes after the body are not part of it", "[proxy][relay]") {
    ChunkedRelay relay;
    std::string data = kBody + "HTTP/1.1 200 OK\r\n";
    REQUIRE(relay.scan(data.data(), data.size()));
    CHECK(relay.done());
    CHECK(relay.used() == kBody.size());
    CHECK(relay.committed() == kPassed.size());
}

TEST_CASE("relay: a body cut short can be closed where it stands", "[proxy][relay]") {
    ChunkedRelay relay;
    std::string close;
    SECTION("inside a chunk: the rest is filled, then its CRLF") {
        std::string data = "a\r\n01234";
        REQUIRE(relay.scan(data.data(), data.size()));
        CHECK(relay.committed() == data.size());
        REQUIRE(relay.close_open_chunk('\n', 100, close));
        CHECK(close == "\n\n\n\n\n\r\n");
        CHECK(relay.payload_tail() == "34");
        CHECK_FALSE(relay.close_open_chunk('\n', 4, close));  // more filler than allowed
    }
    SECTION("after a payload, before its CRLF") {
        std::string data = "3\r\nabc\r";
        REQUIRE(relay.scan(data.data(), data.size()));
        CHECK(relay.committed() == 6);  // the lone CR is held back
        REQUIRE(relay.close_open_chunk('\n', 100, close));
        CHECK(close == "\r\n");
    }
    SECTION("between chunks: nothing to close") {
        std::string data = "3\r\nabc\r\n";
        REQUIRE(relay.scan(data.data(), data.size()));
        REQUIRE(relay.close_open_chunk('\n', 100, close));
        CHECK(close.empty());
    }
    SECTION("after the last chunk's size line: it was never passed on") {
        std::string data = "3\r\nabc\r\n0\r\n";
        REQUIRE(relay.scan(data.data(), data.size()));
        CHECK(relay.committed() == 8);
        CHECK_FALSE(relay.done());
        REQUIRE(relay.close_open_chunk('\n', 100, close));
        CHECK(close.empty());
    }
}

TEST_CASE("relay: framing errors are final", "[proxy][relay]") {
    for (std::string bad :
         std::vector<std::string>{"zz\r\nabc\r\n", "3\r\nabcd\r\n", "\r\n", "3x\r\nabc\r\n",
                                  "10000000000000000\r\n", "1;" + std::string(5000, 'e')}) {
        CAPTURE(bad);
        ChunkedRelay relay;
        CHECK_FALSE(relay.scan(bad.data(), bad.size()));
        CHECK_FALSE(relay.scan("0\r\n\r\n", 5));
        CHECK_FALSE(relay.done());
    }
}

// ---------------------------------------------------------------- response heads

TEST_CASE("head: status, reason, fields in order, and the body after it", "[proxy][head]") {
    const std::string text =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Multi: a\r\n"
        "X-Multi:   b  \r\nTransfer-Encoding: chunked\r\nDate: today\r\n\r\nbody";
    ResponseHead head;
    size_t size = 0;
    REQUIRE(parse(text, head, size) == HeadParse::complete);
    CHECK(size == text.size() - 4);
    CHECK(head.minor == 1);
    CHECK(head.status == 200);
    CHECK(head.reason == "OK");
    REQUIRE(head.fields.size() == 5);
    CHECK(head.fields[2].first == "X-Multi");
    CHECK(head.fields[2].second == "b");
    CHECK(head.chunked);
    CHECK(head.event_stream);
    CHECK(head.has_date);
    CHECK_FALSE(head.has_accel_buffering);
    CHECK_FALSE(head.close);
    CHECK(head.content_length == -1);
}

TEST_CASE("head: incomplete until the blank line", "[proxy][head]") {
    const std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    for (size_t n = 0; n < text.size(); ++n) {
        ResponseHead head;
        size_t size = 0;
        CAPTURE(n);
        CHECK(parse(text.substr(0, n), head, size) == HeadParse::incomplete);
    }
    ResponseHead head;
    size_t size = 0;
    REQUIRE(parse(text, head, size) == HeadParse::complete);
    CHECK(head.content_length == 5);
}

TEST_CASE("head: when the child will close the connection", "[proxy][head]") {
    ResponseHead head;
    size_t size = 0;
    const std::string listed = "HTTP/1.1 200 OK\r\nConnection: x-a, Close\r\n\r\n";
    REQUIRE(parse(listed, head, size) == HeadParse::complete);
    CHECK(head.close);
    CHECK(head.listed.contains("X-A"));  // views into `listed`
    REQUIRE(parse("HTTP/1.0 200 OK\r\n\r\n", head, size) == HeadParse::complete);
    CHECK(head.close);
    REQUIRE(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", head, size) ==
            HeadParse::complete);
    CHECK_FALSE(head.close);
}

TEST_CASE("head: a coding other than chunked is read until close", "[proxy][head]") {
    ResponseHead head;
    size_t size = 0;
    REQUIRE(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n", head,
                  size) == HeadParse::complete);
    CHECK_FALSE(head.chunked);
    CHECK(head.other_coding);
    CHECK(head.content_length == -1);  // the coding wins over a length
}

TEST_CASE("head: malformed heads are refused", "[proxy][head]") {
    for (std::string bad : std::vector<std::string>{
             "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n",
             "ICY 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
             "HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n", "HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"}) {
        CAPTURE(bad);
        ResponseHead head;
        size_t size = 0;
        CHECK(parse(bad, head, size) == HeadParse::bad);
    }
}

TEST_CASE("head: bare LF line ends are accepted", "[proxy][head]") {
    ResponseHead head;
    size_t size = 0;
    const std::string text = "HTTP/1.1 204 No Content\nA: b\n\nrest";
    REQUIRE(parse(text, head, size) == HeadParse::complete);
    CHECK(head.status == 204);
    CHECK(head.reason == "No Content");  // views into `text`
    CHECK(size == text.size() - 4);
}

// ---------------------------------------------------------------- header rules

TEST_CASE("dropped headers: hop-by-hop, Host, Content-Length, named by Connection",
          "[proxy][headers]") {
    ConnectionTokens listed;
    listed.add_list(" keep-alive ,X-Private,, ");
    for (const char* name :
         {"Connection", "HOST", "content-length", "x-private", "TE", "Upgrade"}) {
        CAPTURE(name);
        CHECK(is_dropped(name, listed));
    }
    for (const char* name : {"X-Public", "Authorization", "Content-Type", "Via"}) {
        CAPTURE(name);
        CHECK_FALSE(is_dropped(name, listed));
    }
}
