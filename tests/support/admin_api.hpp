// The engine's admin API as tests read it: a model's counters and state, instead of counting
// log lines by their wording.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace ge_test {

// The entry of model `name` in GET /admin/models (FAILs the test if there is none).
nlohmann::json admin_model(uint16_t port, const std::string& name = "m");

}  // namespace ge_test
