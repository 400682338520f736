// Client API keys at the front door: who gets in, what the child sees, what the log never says.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

namespace {

const std::string kKeys = "server.api_keys = k-first-0123, k-second-4567\nlogging.level = trace\n";

std::string code_of(const HttpResult& r) {
    auto j = json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
}

// The headers the child saw on the last request it served.
json last_request_headers(uint16_t port, const Headers& auth) {
    auto r = http(port, "GET", "/fake/last-request", "", auth);
    REQUIRE(r.status == 200);
    return json::parse(r.body)["header_list"];
}

}  // namespace

TEST_CASE("with client keys, a request without a good key gets 401 and reaches nothing",
          "[fake][keys]") {
    FakeEngine fake("--fake-load-ms 0", kKeys);
    REQUIRE(fake.engine->wait_health(200, 10s));  // /health stays open
    for (const Headers& bad :
         {Headers{}, Headers{{"Authorization", "Bearer k-first-012"}},
          Headers{{"Authorization", "Bearer k-first-01234"}},
          Headers{{"Authorization", "k-first-0123"}}, Headers{{"x-api-key", "K-FIRST-0123"}}}) {
        CAPTURE(bad.empty() ? "no key" : bad[0].second);
        auto r = http(fake.port(), "POST", "/v1/chat/completions", kChat, bad);
        CHECK(r.status == 401);
        CHECK(code_of(r) == "invalid_api_key");
    }
    CHECK(http(fake.port(), "GET", "/admin/models").status == 401);
    auto seen = http(fake.port(), "GET", "/fake/last-request", "",
                     {{"Authorization", "Bearer k-first-0123"}});
    CHECK(seen.status == 404);  // none of them was forwarded
}

TEST_CASE("a good client key is accepted by either header and never forwarded", "[fake][keys]") {
    FakeEngine fake("--fake-load-ms 0", kKeys);
    REQUIRE(fake.engine->wait_health(200, 10s));
    const std::string child_key = child_api_key(fake.child());
    for (const Headers& good :
         {Headers{{"Authorization", "Bearer k-first-0123"}},
          Headers{{"authorization", "bearer k-second-4567"}},
          Headers{{"x-api-key", "k-second-4567"}},
          Headers{{"x-api-key", "k-first-0123"}, {"Authorization", "Bearer wrong-but-second"}}}) {
        CAPTURE(good[0].second);
        CHECK(http(fake.port(), "POST", "/v1/chat/completions", kChat, good).status == 200);
        // The child saw its own secret, once, and nothing of the client's.
        int authorizations = 0;
        for (const auto& header : last_request_headers(fake.port(), good)) {
            std::string name = header[0];
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            CHECK(name != "x-api-key");
            if (name == "authorization") {
                ++authorizations;
                CHECK(header[1] == "Bearer " + child_key);
            }
        }
        CHECK(authorizations == 1);
    }
    fake.engine->drain_output();
    CHECK_FALSE(fake.engine->log_contains("k-first-0123"));
    CHECK_FALSE(fake.engine->log_contains("k-second-4567"));
}

TEST_CASE("health_requires_key closes /health too", "[fake][keys]") {
    FakeEngine fake("--fake-load-ms 0", kKeys + "server.health_requires_key = true\n");
    REQUIRE(wait_until(
        [&] {
            try {
                return http(fake.port(), "GET", "/health", "", {{"x-api-key", "k-first-0123"}})
                           .status == 200;
            } catch (const std::exception&) {
                return false;  // not listening yet
            }
        },
        10s));
    auto open = http(fake.port(), "GET", "/health");
    CHECK(open.status == 401);
    CHECK(code_of(open) == "invalid_api_key");
}
