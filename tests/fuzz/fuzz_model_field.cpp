// Routing's scan of a body for its top-level "model": no crash on any body, and when the body
// is a JSON object whose "model" is a string, the scan finds what a full parse finds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "proxy/router.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string body(reinterpret_cast<const char*>(data), size);
    auto found = gradatum::proxy::model_field(body);
    auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (json.is_object() && json.contains("model") && json["model"].is_string()) {
        // A full parse keeps the last of duplicate keys; the scan stops at the first. Compare only
        // when the key appears once.
        size_t first = body.find("\"model\"");
        bool once =
            first != std::string::npos && body.find("\"model\"", first + 1) == std::string::npos;
        if (once && found != json["model"].get<std::string>()) std::abort();
    }
    return 0;
}
