#include "proxy/body_fields.hpp"
#include "proxy/router.hpp"
// TEMPORARY until the scan branch lands.
namespace gradatum::proxy {
BodyFields scan_body_fields(std::string_view body) { BodyFields f; f.model = model_field(std::string(body)); return f; }
}
