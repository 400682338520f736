// The engine's own parser of an HTTP/1.x request head. It is the gate in front of everything
// else: strict where leniency lets a request mean two things to two parsers (request smuggling),
// bounded in size and field count, and a pure function of the bytes (so it can be fuzzed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gradatum::http {

struct HeadLimits {
    size_t max_bytes = 64 * 1024;  // the whole head, request line and fields
    size_t max_fields = 100;
};

struct RequestHead {
    size_t size = 0;  // bytes of the head, through its empty line (leading CRLFs included)
    std::string method;
    std::string target;                                       // origin-form: "/path?query"
    int minor_version = 1;                                    // HTTP/1.<minor>: 0 or 1
    std::vector<std::pair<std::string, std::string>> fields;  // in order, values trimmed
    std::optional<uint64_t> content_length;
    bool chunked = false;
    bool keep_alive = true;  // what the client asked for (HTTP/1.1 default, 1.0 opt-in)
    bool expect_continue = false;
};

enum class HeadStatus { complete, incomplete, bad };

struct HeadScan {
    HeadStatus status = HeadStatus::incomplete;
    RequestHead head;  // when complete
    // When bad: the HTTP status (400, 431 or 505), a stable error code and a message.
    int error_status = 0;
    std::string error_code;
    std::string error_message;
};

// Scans `bytes` (what the client sent so far) for one request head. Incomplete: more bytes are
// needed (and allowed: a head past the limits is `bad` with 431 as soon as it is known).
HeadScan scan_request_head(std::string_view bytes, const HeadLimits& limits);

}  // namespace gradatum::http
