// The request-head parser on arbitrary bytes: no crash, no overread, and a complete head reads
// the same again from its own bytes (the parse depends on nothing past the head).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/request_head.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace gradatum::http;
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    HeadLimits limits;
    limits.max_bytes = 4096;
    limits.max_fields = 32;
    HeadScan scan = scan_request_head(bytes, limits);
    if (scan.status != HeadStatus::complete) return 0;
    if (scan.head.size > size || scan.head.size > limits.max_bytes) std::abort();
    HeadScan again = scan_request_head(bytes.substr(0, scan.head.size), limits);
    if (again.status != HeadStatus::complete || again.head.fields != scan.head.fields ||
        again.head.target != scan.head.target ||
        again.head.content_length != scan.head.content_length ||
        again.head.chunked != scan.head.chunked) {
        std::abort();
    }
    // Never both framings, never a Content-Length with a chunked body.
    if (scan.head.chunked && scan.head.content_length) std::abort();
    return 0;
}
