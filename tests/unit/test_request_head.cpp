// The request-head parser: what it accepts, and every ambiguity it refuses.
#include <catch2/catch.hpp>
#include <string>

#include "http/request_head.hpp"

using gradatum::http::HeadLimits;
using gradatum::http::HeadStatus;
using gradatum::http::scan_request_head;

namespace {

gradatum::http::HeadScan scan(const std::string& bytes, HeadLimits limits = {}) {
    return scan_request_head(bytes, limits);
}

// The error code of a head that must be refused, or "accepted"/"incomplete".
std::string verdict(const std::string& bytes) {
    auto s = scan(bytes);
    if (s.status == HeadStatus::complete) return "accepted";
    if (s.status == HeadStatus::incomplete) return "incomplete";
    return std::to_string(s.error_status) + " " + s.error_code;
}

}  // namespace

TEST_CASE("a normal head is parsed into its parts", "[http][head]") {
    auto s = scan(
        "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n"
        "X-Two:  spaced value \r\nX-Two: again\r\n\r\n{\"model\":1}");
    REQUIRE(s.status == HeadStatus::complete);
    CHECK(s.head.method == "POST");
    CHECK(s.head.target == "/v1/chat/completions?x=1");
    CHECK(s.head.minor_version == 1);
    CHECK(s.head.content_length == 12u);
    CHECK_FALSE(s.head.chunked);
    CHECK(s.head.keep_alive);
    REQUIRE(s.head.fields.size() == 4);
    CHECK(s.head.fields[2].second == "spaced value");
    CHECK(s.head.fields[3].first == "X-Two");
    CHECK(s.head.size == std::string("POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\n"
                                     "Content-Length: 12\r\nX-Two:  spaced value \r\n"
                                     "X-Two: again\r\n\r\n")
                             .size());
}

TEST_CASE("keep-alive, chunked and 100-continue are read from the fields", "[http][head]") {
    auto s = scan(
        "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n"
        "Connection: keep-alive, close\r\nExpect: 100-continue\r\n\r\n");
    REQUIRE(s.status == HeadStatus::complete);
    CHECK(s.head.chunked);
    CHECK_FALSE(s.head.keep_alive);
    CHECK(s.head.expect_continue);
    auto old = scan("GET / HTTP/1.0\r\n\r\n");
    REQUIRE(old.status == HeadStatus::complete);
    CHECK_FALSE(old.head.keep_alive);  // HTTP/1.0 closes unless asked
    CHECK(scan("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").head.keep_alive);
}

TEST_CASE("a head is incomplete until its empty line", "[http][head]") {
    CHECK(verdict("") == "incomplete");
    CHECK(verdict("GET / HTTP/1.1\r\nHost: a\r\n") == "incomplete");
    CHECK(verdict("\r\n\r\n") == "incomplete");
    CHECK(verdict("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == "accepted");  // a stray CRLF first
}

TEST_CASE("request smuggling vectors are refused", "[http][head][smuggling]") {
    const std::string line = "POST / HTTP/1.1\r\nHost: a\r\n";
    CHECK(verdict(line + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") ==
          "400 bad_request");
    CHECK(verdict(line + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Content-Length: -1\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Content-Length: +5\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Content-Length: 5 5\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Content-Length: 0x10\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Content-Length: 99999999999999999999\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Content-Length:\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Transfer-Encoding: gzip, chunked\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Transfer-Encoding: chunked, chunked\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Transfer-Encoding: identity\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") ==
          "400 bad_request");
    CHECK(verdict(line + "X-A: b\r\n folded\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Content-Length : 5\r\n\r\n") == "400 bad_request");
    CHECK(verdict(line + "Content-Length: 5\r\n\r\n") == "accepted");
    CHECK(verdict("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == "400 bad_request");
}

TEST_CASE("malformed heads are refused", "[http][head]") {
    CHECK(verdict("GET /\r\n\r\n") == "400 bad_request");  // HTTP/0.9
    CHECK(verdict("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == "505 http_version_not_supported");
    CHECK(verdict("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == "505 http_version_not_supported");
    CHECK(verdict("GET / HTTX/1.1\r\nHost: a\r\n\r\n") == "400 bad_request");
    CHECK(verdict("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == "400 bad_request");
    CHECK(verdict("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n") == "400 bad_request");
    CHECK(verdict("G(T / HTTP/1.1\r\nHost: a\r\n\r\n") == "400 bad_request");
    CHECK(verdict("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n") == "400 bad_request");
    CHECK(verdict(std::string("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 31)) == "400 bad_request");
    CHECK(verdict(std::string("GET / HTTP/1.1\r\nHost: a\0\r\n\r\n", 28)) == "400 bad_request");
    CHECK(verdict(std::string("GET / HTTP/1.1\r\nHo\0", 19)) == "400 bad_request");  // early
    CHECK(verdict("GET / HTTP/1.1\nHost: a\n\n") == "400 bad_request");              // bare LF
    CHECK(verdict("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n") == "400 bad_request");
    CHECK(verdict("GET / HTTP/1.1\r\nNoColon\r\n\r\n") == "400 bad_request");
    CHECK(verdict("GET / HTTP/1.1\r\n: empty-name\r\n\r\n") == "400 bad_request");
    CHECK(verdict("GET / HTTP/1.1\r\n\r\n") == "400 bad_request");  // no Host
    CHECK(verdict("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == "400 bad_request");
    CHECK(verdict("GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n") ==
          "417 expectation_failed");
}

TEST_CASE("limits on head size and field count give 431", "[http][head]") {
    HeadLimits limits;
    limits.max_bytes = 200;
    limits.max_fields = 3;
    std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'v');
    CHECK(scan(big, limits).error_status == 431);               // known before the end
    CHECK(scan(big + "\r\n\r\n", limits).error_status == 431);  // and after it
    std::string many = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    auto s = scan(many, limits);
    CHECK(s.error_status == 431);
    CHECK(s.error_message.find("server.max_headers") != std::string::npos);
    CHECK(scan("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits).status ==
          HeadStatus::complete);
}
