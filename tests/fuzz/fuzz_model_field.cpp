// Routing's scan of a body for its top-level "model" and "stream" (scan_body_fields, behind
// model_field): no crash on any body, and on every body the same answer as nlohmann's own parser
// under the same rules (tests/support/body_fields_reference.hpp): malformed input included.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "body_fields_reference.hpp"
#include "proxy/body_fields.hpp"
#include "proxy/router.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string body(reinterpret_cast<const char*>(data), size);
    auto scanned = gradatum::proxy::scan_body_fields(body);
    auto expected = gradatum::test::reference_body_fields(body);
    if (scanned.model != expected.model || scanned.stream != expected.stream) std::abort();
    if (gradatum::proxy::model_field(body) != scanned.model) std::abort();

    // Independent of the reference: a body nlohmann accepts as an object, with a string "model",
    // gives that string. A full parse keeps the last of duplicate keys and the scan the first, so
    // only when the key is there once (no escapes: "mod\u0065l" is a "model" too).
    auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (json.is_object() && json.contains("model") && json["model"].is_string() &&
        body.find('\\') == std::string::npos) {
        size_t first = body.find("\"model\"");
        bool once =
            first != std::string::npos && body.find("\"model\"", first + 1) == std::string::npos;
        if (once && scanned.model != json["model"].get<std::string>()) std::abort();
    }
    return 0;
}
