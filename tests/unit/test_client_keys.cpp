// ClientKeys: which requests carry a configured client key, in which headers, compared how.
#include <Poco/Net/HTTPRequest.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "proxy/client_keys.hpp"

using gradatum::proxy::ClientKeys;
using Headers = std::vector<std::pair<std::string, std::string>>;

namespace {

Poco::Net::HTTPRequest request(const Headers& headers) {
    Poco::Net::HTTPRequest r(Poco::Net::HTTPRequest::HTTP_POST, "/v1/chat/completions",
                             Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : headers) r.add(name, value);
    return r;
}

const ClientKeys kKeys({"sk-alpha-0001", "sk-beta-0002"});

}  // namespace

TEST_CASE("no keys: not enabled, every request accepted", "[keys]") {
    ClientKeys none({});
    CHECK_FALSE(none.enabled());
    CHECK(none.accepts(request({})));
    CHECK(none.accepts(request({{"Authorization", "Bearer anything"}})));
    CHECK(kKeys.enabled());
}

TEST_CASE("a Bearer token or an x-api-key with a configured key is accepted", "[keys]") {
    CHECK(kKeys.accepts(request({{"Authorization", "Bearer sk-alpha-0001"}})));
    CHECK(kKeys.accepts(request({{"Authorization", "Bearer sk-beta-0002"}})));
    CHECK(kKeys.accepts(request({{"x-api-key", "sk-alpha-0001"}})));
    CHECK(kKeys.accepts(request({{"X-API-Key", "sk-beta-0002"}})));
    // The scheme and header names in any case, optional whitespace around the token.
    CHECK(kKeys.accepts(request({{"authorization", "bearer sk-alpha-0001"}})));
    CHECK(kKeys.accepts(request({{"AUTHORIZATION", "BEARER   sk-alpha-0001  "}})));
    CHECK(kKeys.accepts(request({{"Authorization", "Bearer\tsk-alpha-0001"}})));
    CHECK(kKeys.accepts(request({{"x-api-key", "  sk-beta-0002 "}})));
}

TEST_CASE("a missing, wrong or malformed key is refused", "[keys]") {
    CHECK_FALSE(kKeys.accepts(request({})));
    CHECK_FALSE(kKeys.accepts(request({{"Authorization", "Bearer sk-alpha-0002"}})));
    CHECK_FALSE(kKeys.accepts(request({{"Authorization", "Bearer sk-alpha-000"}})));  // prefix
    CHECK_FALSE(kKeys.accepts(request({{"Authorization", "Bearer sk-alpha-00011"}})));
    CHECK_FALSE(kKeys.accepts(request({{"Authorization", "Bearer SK-ALPHA-0001"}})));  // case
    CHECK_FALSE(kKeys.accepts(request({{"Authorization", "Bearer "}})));
    CHECK_FALSE(kKeys.accepts(request({{"Authorization", "Bearer"}})));
    // Not the Bearer scheme: the key alone, Basic, a scheme glued to the key.
    CHECK_FALSE(kKeys.accepts(request({{"Authorization", "sk-alpha-0001"}})));
    CHECK_FALSE(kKeys.accepts(request({{"Authorization", "Basic sk-alpha-0001"}})));
    CHECK_FALSE(kKeys.accepts(request({{"Authorization", "Bearersk-alpha-0001"}})));
    CHECK_FALSE(kKeys.accepts(request({{"x-api-key", ""}})));
    CHECK_FALSE(kKeys.accepts(request({{"x-api-key", "Bearer sk-alpha-0001"}})));
    // Other headers do not count.
    CHECK_FALSE(kKeys.accepts(request({{"Proxy-Authorization", "Bearer sk-alpha-0001"}})));
    CHECK_FALSE(kKeys.accepts(request({{"api-key", "sk-alpha-0001"}})));
    CHECK_FALSE(kKeys.accepts(request({{"X-Api-Key-2", "sk-alpha-0001"}})));
}

TEST_CASE("any one good key among the key headers is enough", "[keys]") {
    CHECK(kKeys.accepts(
        request({{"Authorization", "Basic dXNlcjpwdw=="}, {"x-api-key", "sk-beta-0002"}})));
    CHECK(
        kKeys.accepts(request({{"x-api-key", "wrong"}, {"Authorization", "Bearer sk-beta-0002"}})));
    CHECK(kKeys.accepts(request({{"x-api-key", "wrong"}, {"X-Api-Key", "sk-alpha-0001"}})));
    CHECK_FALSE(kKeys.accepts(request({{"x-api-key", "wrong"}, {"Authorization", "Bearer no"}})));
}

TEST_CASE("accepts_key compares whole keys, any length, any byte", "[keys]") {
    std::string binary("k\0y", 3);
    ClientKeys keys({"x", std::string(4096, 'k'), binary});
    CHECK(keys.accepts_key("x"));
    CHECK(keys.accepts_key(std::string(4096, 'k')));
    CHECK_FALSE(keys.accepts_key(std::string(4095, 'k')));
    CHECK_FALSE(keys.accepts_key(std::string(4097, 'k')));
    CHECK(keys.accepts_key(binary));
    CHECK_FALSE(keys.accepts_key("k"));  // what a C-string comparison would see
    CHECK_FALSE(keys.accepts_key(""));
    CHECK_FALSE(keys.accepts_key("y"));
}

TEST_CASE("an empty configured key is refused: it would let an empty credential in", "[keys]") {
    CHECK_THROWS_AS(ClientKeys({"good", ""}), std::invalid_argument);
}

TEST_CASE("Authorization and x-api-key are the key headers", "[keys]") {
    for (const char* name :
         {"Authorization", "authorization", "X-Api-Key", "x-api-key", "X-API-KEY"})
        CHECK(ClientKeys::is_key_header(name));
    for (const char* name : {"Proxy-Authorization", "api-key", "X-Api-Keys", "Cookie", ""})
        CHECK_FALSE(ClientKeys::is_key_header(name));
}

TEST_CASE("the comparison takes as long for a near miss as for a far miss", "[keys][timing]") {
    // A byte-by-byte comparison with an early exit is faster the sooner the keys differ. Here
    // every presented key is digested and every digest compared in full, so a key that differs
    // only in its last byte takes as long as one that differs in its first. Medians of many
    // rounds, alternating, so that a busy machine moves both sides alike; the bound is loose
    // (a leak would show as a steady difference, not noise), a sanity check, not a proof.
    const std::string secret(64 * 1024, 's');
    ClientKeys keys({secret});
    std::string near = secret;
    near.back() = 't';
    std::string far = secret;
    far.front() = 't';
    auto time = [&](const std::string& presented) {
        auto start = std::chrono::steady_clock::now();
        bool ok = keys.accepts_key(presented);
        auto took = std::chrono::steady_clock::now() - start;
        REQUIRE_FALSE(ok);
        return std::chrono::duration<double, std::micro>(took).count();
    };
    std::vector<double> near_times, far_times;
    for (int i = 0; i < 201; ++i) {
        near_times.push_back(time(near));
        far_times.push_back(time(far));
    }
    std::nth_element(near_times.begin(), near_times.begin() + 100, near_times.end());
    std::nth_element(far_times.begin(), far_times.begin() + 100, far_times.end());
    double near_median = near_times[100], far_median = far_times[100];
    INFO("near miss " << near_median << " us, far miss " << far_median << " us");
    CHECK(near_median < far_median * 1.5);
    CHECK(far_median < near_median * 1.5);
}
