#include "proxy/response_head.hpp"

#include <cstring>

namespace gradatum::proxy {

namespace {

constexpr size_t kMaxFields = 256;

bool is_token_char(char c) {
    if (c >= 'a' && c <= 'z') return true;
    if (c >= 'A' && c <= 'Z') return true;
    if (c >= '0' && c <= '9') return true;
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The last comma-separated element of a list value.
std::string_view last_element(std::string_view value) {
    size_t comma = value.rfind(',');
    return trim(comma == std::string_view::npos ? value : value.substr(comma + 1));
}

bool parse_length(std::string_view value, int64_t& out) {
    if (value.empty() || value.size() > 18) return false;
    int64_t n = 0;
    for (char c : value) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + (c - '0');
    }
    out = n;
    return true;
}

}  // namespace

HeadParse parse_response_head(const char* data, size_t size, ResponseHead& head, size_t& head_size,
                              std::string& why) {
    head = ResponseHead{};
    size_t pos = 0;
    bool first = true;
    bool keep_alive_token = false;
    while (true) {
        const void* nl = std::memchr(data + pos, '\n', size - pos);
        if (!nl) return HeadParse::incomplete;
        size_t end = static_cast<size_t>(static_cast<const char*>(nl) - data);
        std::string_view line(data + pos, end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (first) {
            first = false;
            // HTTP/1.x SSS[ reason]
            if (line.size() < 12 || line.compare(0, 7, "HTTP/1.") != 0 || line[7] < '0' ||
                line[7] > '9' || line[8] != ' ' || line[9] < '1' || line[9] > '5' ||
                line[10] < '0' || line[10] > '9' || line[11] < '0' || line[11] > '9' ||
                (line.size() > 12 && line[12] != ' ')) {
                why = "malformed status line from the backend";
                return HeadParse::bad;
            }
            head.minor = line[7] - '0';
            head.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
            head.reason = line.size() > 13 ? line.substr(13) : std::string_view();
            continue;
        }
        if (line.empty()) break;  // the end of the head
        if (line.front() == ' ' || line.front() == '\t') {
            why = "folded header line from the backend";
            return HeadParse::bad;
        }
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            why = "malformed header line from the backend";
            return HeadParse::bad;
        }
        std::string_view name = line.substr(0, colon);
        for (char c : name) {
            if (!is_token_char(c)) {
                why = "malformed header name from the backend";
                return HeadParse::bad;
            }
        }
        std::string_view value = trim(line.substr(colon + 1));
        if (head.fields.size() >= kMaxFields) {
            why = "too many header fields from the backend";
            return HeadParse::bad;
        }
        head.fields.emplace_back(name, value);
        if (iequals(name, "content-length")) {
            int64_t n = 0;
            if (!parse_length(value, n) || (head.content_length >= 0 && head.content_length != n)) {
                why = "bad Content-Length from the backend";
                return HeadParse::bad;
            }
            head.content_length = n;
        } else if (iequals(name, "transfer-encoding")) {
            bool chunked = iequals(last_element(value), "chunked");
            head.chunked = chunked;
            head.other_coding = !chunked;
        } else if (iequals(name, "connection")) {
            head.listed.add_list(value);
        } else if (iequals(name, "content-type")) {
            head.event_stream = istarts_with(value, "text/event-stream");
        } else if (iequals(name, "date")) {
            head.has_date = true;
        } else if (iequals(name, "x-accel-buffering")) {
            head.has_accel_buffering = true;
        }
    }
    if (head.chunked || head.other_coding) head.content_length = -1;  // the coding wins
    keep_alive_token = head.listed.contains("keep-alive");
    head.close = head.listed.contains("close") || (head.minor == 0 && !keep_alive_token);
    head_size = pos;
    return HeadParse::complete;
}

}  // namespace gradatum::proxy
