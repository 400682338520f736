#include "admin_api.hpp"

#include <catch2/catch.hpp>

#include "http_client.hpp"

namespace ge_test {

nlohmann::json admin_model(uint16_t port, const std::string& name, const std::string& key) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!key.empty()) headers.emplace_back("Authorization", "Bearer " + key);
    auto answer = http(port, "GET", "/admin/models", "", headers);
    REQUIRE(answer.status == 200);
    nlohmann::json list = nlohmann::json::parse(answer.body);
    for (const auto& model : list["data"]) {
        if (model["id"] == name) return model;
    }
    FAIL("no model " << name << " in /admin/models: " << answer.body);
    return {};
}

}  // namespace ge_test
