// scan_body_fields: the routing fields of a body found without building it, and nothing for a
// body that is broken before both are seen; held to nlohmann's parser on tricky bodies.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "body_fields_reference.hpp"
#include "proxy/body_fields.hpp"

using gradatum::proxy::BodyFields;
using gradatum::proxy::scan_body_fields;

namespace {

bool nothing(const BodyFields& f) {
    return !f.model && !f.stream;
}

// A body the scan must find broken: nothing, as nlohmann also says.
void check_broken(const std::string& body) {
    INFO("body: " << body);
    CHECK(nothing(scan_body_fields(body)));
    CHECK(nothing(gradatum::test::reference_body_fields(body)));
}

}  // namespace

TEST_CASE("body fields: model and stream at the top level", "[proxy][body_fields]") {
    auto f = scan_body_fields(R"({"model":"qwen","messages":[],"stream":true})");
    CHECK(f.model == "qwen");
    CHECK(f.stream);
    // stream before model, and each alone.
    f = scan_body_fields(R"({"stream":true,"messages":[{"role":"user"}],"model":"q"})");
    CHECK(f.model == "q");
    CHECK(f.stream);
    f = scan_body_fields(R"({"stream":true})");
    CHECK_FALSE(f.model);
    CHECK(f.stream);
    f = scan_body_fields(R"({"model":"m"})");
    CHECK(f.model == "m");
    CHECK_FALSE(f.stream);
    CHECK(scan_body_fields(R"({})").model == std::nullopt);
}

TEST_CASE("body fields: stream is true only for the literal true", "[proxy][body_fields]") {
    for (const char* value : {"false", R"("true")", "1", "null", "[true]", R"({"a":true})"}) {
        std::string body = std::string(R"({"model":"m","stream":)") + value + "}";
        INFO(body);
        auto f = scan_body_fields(body);
        CHECK(f.model == "m");
        CHECK_FALSE(f.stream);
    }
    // First wins: a later "stream": true does not count.
    CHECK_FALSE(scan_body_fields(R"({"stream":false,"stream":true})").stream);
    CHECK(scan_body_fields(R"({"stream":true,"stream":false})").stream);
}

TEST_CASE("body fields: escapes in model are decoded", "[proxy][body_fields]") {
    CHECK(scan_body_fields(R"({"model":"a\"b\\c\/d"})").model == "a\"b\\c/d");
    CHECK(scan_body_fields(R"({"model":"\b\f\n\r\t"})").model == "\b\f\n\r\t");
    CHECK(scan_body_fields(R"({"model":"\u0041\u00e9\u20AC"})").model == "A\xc3\xa9\xe2\x82\xac");
    CHECK(scan_body_fields(R"({"model":"\u0000"})").model == std::string(1, '\0'));
    // A surrogate pair is one code point, four UTF-8 bytes.
    CHECK(scan_body_fields(R"({"model":"x\ud83d\ude00y"})").model == "x\xf0\x9f\x98\x80y");
    CHECK(scan_body_fields(R"({"model":"\uDBFF\uDFFF"})").model == "\xf4\x8f\xbf\xbf");
    // Raw UTF-8 is kept as it is.
    CHECK(scan_body_fields("{\"model\":\"caf\xc3\xa9-\xe4\xb8\xad-\xf0\x9f\x98\x80\"}").model ==
          "caf\xc3\xa9-\xe4\xb8\xad-\xf0\x9f\x98\x80");
    // A key is compared decoded: this is "model".
    CHECK(scan_body_fields(R"({"mod\u0065l":"m"})").model == "m");
    CHECK_FALSE(scan_body_fields(R"({"models":"m","mode":"x","Model":"y"})").model);
}

TEST_CASE("body fields: bad escapes and bad UTF-8 are malformed", "[proxy][body_fields]") {
    for (const char* body : {
             R"({"model":"\x"})",            // unknown escape
             R"({"model":"\u12"})",          // short \u
             R"({"model":"\u12G4"})",        // not hex
             R"({"model":"\ud83d"})",        // high surrogate alone
             R"({"model":"\ud83dx"})",       // high surrogate, then no escape
             R"({"model":"\ud83d\u0041"})",  // high surrogate, then no low one
             R"({"model":"\ude00"})",        // low surrogate alone
             "{\"model\":\"a\tb\"}",         // raw control character
             "{\"model\":\"a\nb\"}",
             "{\"x\":\"\xc0\x80\",\"model\":\"m\"}",          // overlong NUL
             "{\"x\":\"\xed\xa0\x80\",\"model\":\"m\"}",      // a surrogate in UTF-8
             "{\"x\":\"\xf4\x90\x80\x80\",\"model\":\"m\"}",  // past U+10FFFF
             "{\"x\":\"\x80\",\"model\":\"m\"}",              // lone continuation byte
             "{\"x\":\"\xe4\xb8\",\"model\":\"m\"}",          // cut sequence
             "{\"x\":\"\xff\",\"model\":\"m\"}",
         }) {
        check_broken(body);
    }
}

TEST_CASE("body fields: nested model and stream keys do not count", "[proxy][body_fields]") {
    auto f = scan_body_fields(
        R"({"messages":[{"model":"inner","stream":true,"content":"\"model\":\"s\""}],)"
        R"("meta":{"model":"no","deeper":[{"model":"no"},[["model","x"]]]},"tools":[],)"
        R"("model":"outer"})");
    CHECK(f.model == "outer");
    CHECK_FALSE(f.stream);
    CHECK_FALSE(scan_body_fields(R"({"meta":{"model":"no"}})").model);
    CHECK_FALSE(scan_body_fields(R"({"x":"model","y":["model"]})").model);
}

TEST_CASE("body fields: the first model wins, a non-string model is none", "[proxy][body_fields]") {
    CHECK(scan_body_fields(R"({"model":"first","model":"second"})").model == "first");
    CHECK_FALSE(scan_body_fields(R"({"model":42,"model":"second"})").model);
    for (const char* value :
         {"42", "-1.5e3", "null", "true", "false", R"({"name":"x"})", "[\"x\"]"}) {
        std::string body = std::string(R"({"model":)") + value + R"(,"stream":true})";
        INFO(body);
        auto f = scan_body_fields(body);
        CHECK_FALSE(f.model);
        CHECK(f.stream);
    }
}

TEST_CASE("body fields: model after an 8 MiB string", "[proxy][body_fields]") {
    std::string image(8u << 20, 'A');
    for (std::size_t i = 0; i < image.size(); i += 77) image[i] = '+';
    std::string body = R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":)"
                       R"({"url":"data:image/png;base64,)" +
                       image + R"("}}]}],"model":"vision","stream":true})";
    auto f = scan_body_fields(body);
    CHECK(f.model == "vision");
    CHECK(f.stream);
    // One control character deep in it makes the body malformed.
    body[body.size() / 2] = '\x01';
    CHECK(nothing(scan_body_fields(body)));
}

TEST_CASE("body fields: whitespace everywhere", "[proxy][body_fields]") {
    auto f = scan_body_fields(
        " \t\r\n{ \n\"messages\" \t: [ { \"a\" : [ 1 , 2.5 , true , null ] } , [ ] , { } ] ,\r\n"
        " \"model\"\t:\n\"m\" , \"stream\" : true } \n\t ");
    CHECK(f.model == "m");
    CHECK(f.stream);
    // Only JSON's four whitespace characters.
    check_broken("{\"model\":\f\"m\"}");
    check_broken("{\"model\":\v\"m\"}");
    check_broken("\xc2\xa0{\"model\":\"m\"}");
}

TEST_CASE("body fields: malformed bodies give nothing", "[proxy][body_fields]") {
    for (const char* body : {
             "",
             " ",
             "not json",
             "{",
             "}",
             R"({"model")",
             R"({"model":)",
             R"({"model":"m")",
             R"({"model":"m",})",
             R"({"model" "m"})",
             R"({"model":"m" "x":1})",
             R"({'model':'m'})",
             R"({model:"m"})",
             R"({"model":"m"}})",
             R"({"model":"m"} x)",
             R"({"model":"m"}{})",
             R"({"a":[1,],"model":"m"})",
             R"({"a":[1 2],"model":"m"})",
             R"({"a":{"b"},"model":"m"})",
             R"({"a":{"b":1,},"model":"m"})",
             R"({"a":[}],"model":"m"})",
             R"({"a":tru,"model":"m"})",
             R"({"a":nul,"model":"m"})",
             R"({"a":True,"model":"m"})",
             R"({"a":01,"model":"m"})",
             R"({"a":-,"model":"m"})",
             R"({"a":1.,"model":"m"})",
             R"({"a":.5,"model":"m"})",
             R"({"a":1e,"model":"m"})",
             R"({"a":+1,"model":"m"})",
             R"({"a":1e400,"model":"m"})",
             R"({"a":-1e400,"model":"m"})",
             R"({"a":0x10,"model":"m"})",
             R"({"a":NaN,"model":"m"})",
             R"({"a":1 /* c */,"model":"m"})",
             // Cut after the model, before any "stream": the scan goes on and finds the cut.
             R"({"model":"m","messages":[{"content":"unfinished)",
         }) {
        check_broken(body);
    }
    check_broken(std::string("{\"model\":\"m\"\0}", 14));
    check_broken(std::string("\0{\"model\":\"m\"}", 14));
}

TEST_CASE("body fields: a NUL byte after the object ends the body, as in nlohmann",
          "[proxy][body_fields]") {
    for (const auto& body :
         {std::string("{\"model\":\"m\"}\0", 14), std::string("{\"model\":\"m\"} \0garbage", 22)}) {
        CHECK(scan_body_fields(body).model == "m");
        CHECK(gradatum::test::reference_body_fields(body).model == "m");
    }
}

TEST_CASE("body fields: a body broken after both fields still gives them", "[proxy][body_fields]") {
    // The scan stops at the second field and never reads on (as a SAX parse stopped there).
    auto f = scan_body_fields(R"({"model":"m","stream":true,"messages":[{"content":"unfinished)");
    CHECK(f.model == "m");
    CHECK(f.stream);
    f = scan_body_fields(R"({"stream":false,"model":"m"} trailing)");
    CHECK(f.model == "m");
    CHECK_FALSE(f.stream);
}

TEST_CASE("body fields: not an object gives nothing", "[proxy][body_fields]") {
    for (const char* body : {R"(["model","x"])", R"([{"model":"x","stream":true}])", R"("model")",
                             "42", "null", "true"}) {
        INFO(body);
        CHECK(nothing(scan_body_fields(body)));
    }
}

TEST_CASE("body fields: numbers nlohmann takes are taken", "[proxy][body_fields]") {
    for (const char* value :
         {"0", "-0", "0.5", "-0.0e-0", "1E+5", "1e-400", "123456789012345678901234567890",
          "1.7976931348623157e308", "-1.7976931348623157e308", "179.76931348623157e306",
          "0.00001e313", "0e99999999999999999999", "1e-99999999999999999999"}) {
        std::string body = std::string(R"({"a":)") + value + R"(,"model":"m"})";
        INFO(body);
        CHECK(scan_body_fields(body).model == "m");
        CHECK(gradatum::test::reference_body_fields(body).model == "m");
    }
    // Just past DBL_MAX, and a 309-digit integer beyond it.
    check_broken(R"({"a":1.7976931348623159e308,"model":"m"})");
    check_broken(R"({"a":1e99999999999999999999,"model":"m"})");
    check_broken(R"({"a":)" + std::string(309, '9') + R"(,"model":"m"})");
    CHECK(scan_body_fields(R"({"a":)" + std::string(308, '9') + R"(,"model":"m"})").model == "m");
}

TEST_CASE("body fields: a UTF-8 byte-order mark only at the start", "[proxy][body_fields]") {
    CHECK(scan_body_fields("\xef\xbb\xbf{\"model\":\"m\"}").model == "m");
    check_broken(" \xef\xbb\xbf{\"model\":\"m\"}");
    check_broken("\xef\xbb{\"model\":\"m\"}");
}

TEST_CASE("body fields: deep nesting is no recursion", "[proxy][body_fields]") {
    const std::size_t depth = 1'000'000;
    std::string body =
        R"({"a":)" + std::string(depth, '[') + std::string(depth, ']') + R"(,"model":"m"})";
    CHECK(scan_body_fields(body).model == "m");
    body = R"({"a":)" + std::string(depth, '[') + R"(,"model":"m"})";
    CHECK(nothing(scan_body_fields(body)));
}

TEST_CASE("body fields: escapes and bytes at every offset of a 16-byte block",
          "[proxy][body_fields]") {
    // The fast skip reads 16 bytes at a time: put what stops it at each position of two blocks.
    for (std::size_t at = 0; at < 40; ++at) {
        std::string pad(at, 'p');
        INFO("offset " << at);
        auto f = scan_body_fields(R"({"x":")" + pad + R"(\"q", "model":")" + pad + R"(\u00e9\n"})");
        CHECK(f.model == pad + "\xc3\xa9\n");
        f = scan_body_fields("{\"model\":\"" + pad + "\xe2\x82\xac" + pad + "\"}");
        CHECK(f.model == pad + "\xe2\x82\xac" + pad);
        check_broken("{\"x\":\"" + pad + "\x1f" + pad + "\",\"model\":\"m\"}");
        check_broken("{\"x\":\"" + pad + "\xc3" + "\",\"model\":\"m\"}");
        // The string's end at each offset too, then cut.
        check_broken("{\"model\":\"" + pad);
    }
}

TEST_CASE("body fields: the scan agrees with nlohmann on tricky bodies", "[proxy][body_fields]") {
    const std::vector<std::string> bodies = {
        R"({"model":"m","stream":01})",  // nlohmann ends the number at "0" and has both fields
        R"({"stream":truex,"model":"m"})",
        R"({"model":"m","stream":true}garbage)",
        R"({"model":"m","stream":[1,2}})",
        R"({"stream":{"a":[true]},"model":["x"],"z":)",
        R"({"mod\u0065l":"a","model":"b"})",
        R"({"\u006dodel":"\ud834\udd1e"})",
        R"({"model":"m","stream":true,)",
        R"({"model":"m" , "stream" : true })",
        R"({"a":{"model":"x","stream":true},"stream":null})",
        std::string("{\"model\":\"m\",\"stream\":true}\0", 28),
        "\xef\xbb\xbf {\"stream\":true}",
        R"({"a":-01,"model":"m"})",
        R"({"a":1e+,"model":"m"})",
        R"({"a":1.5E-3,"model":"m","stream":true})",
        R"({"a":9.9e307,"b":99e307,"model":"m"})",
    };
    for (const auto& body : bodies) {
        INFO("body: " << body);
        auto scanned = scan_body_fields(body);
        auto expected = gradatum::test::reference_body_fields(body);
        CHECK(scanned.model == expected.model);
        CHECK(scanned.stream == expected.stream);
    }
}
