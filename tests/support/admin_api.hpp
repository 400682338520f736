// The engine's admin API as tests read it: a model's counters and state, instead of counting
// log lines by their wording.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace ge_test {

// The entry of model `name` in GET /admin/models (FAILs the test if there is none).
// `key`: sent as a Bearer key (an admin key, or the client key when no admin keys are set).
nlohmann::json admin_model(uint16_t port, const std::string& name = "m",
                           const std::string& key = "");

}  // namespace ge_test
