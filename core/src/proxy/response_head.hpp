// Parses the status line and header fields of a child's response straight from the bytes read,
// without copying them: every view points into the caller's buffer, which must outlive the head.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/header_rules.hpp"

namespace gradatum::proxy {

struct ResponseHead {
    int minor = 1;  // HTTP/1.<minor>
    int status = 0;
    std::string_view reason;
    std::vector<std::pair<std::string_view, std::string_view>> fields;  // in arrival order

    // Read from the fields:
    bool chunked = false;         // Transfer-Encoding whose last coding is chunked
    bool other_coding = false;    // a Transfer-Encoding without chunked last: read until close
    int64_t content_length = -1;  // -1: none
    bool close = false;           // the child will close the connection after this response
    bool event_stream = false;    // Content-Type text/event-stream
    bool has_date = false;
    bool has_accel_buffering = false;  // X-Accel-Buffering
    ConnectionTokens listed;           // names in Connection: hop-by-hop for this message
};

enum class HeadParse { incomplete, complete, bad };

// Parses one head from data[0, size). On `complete`, `head_size` is its length including the
// blank line. On `bad`, `why` says what is wrong.
HeadParse parse_response_head(const char* data, size_t size, ResponseHead& head, size_t& head_size,
                              std::string& why);

}  // namespace gradatum::proxy
