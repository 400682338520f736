#include "admin_api.hpp"

#include <catch2/catch.hpp>

#include "http_client.hpp"

namespace ge_test {

nlohmann::json admin_model(uint16_t port, const std::string& name) {
    auto answer = http(port, "GET", "/admin/models");
    REQUIRE(answer.status == 200);
    nlohmann::json list = nlohmann::json::parse(answer.body);
    for (const auto& model : list["data"]) {
        if (model["id"] == name) return model;
    }
    FAIL("no model " << name << " in /admin/models: " << answer.body);
    return {};
}

}  // namespace ge_test
