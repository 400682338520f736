#include "http/request_head.hpp"

#include <algorithm>

namespace gradatum::http {

namespace {

// RFC 9110 5.6.2: token characters.
bool is_tchar(unsigned char c) {
    if (c >= '0' && c <= '9') return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '.':
        case '^':
        case '_':
        case '`':
        case '|':
        case '~':
            return true;
        default:
            return false;
    }
}

// A field value: visible ASCII, space, tab and obs-text (bytes >= 0x80); never NUL, CR or LF.
bool is_value_char(unsigned char c) {
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// True if the comma-separated `value` has `token` as one of its elements (Connection: close).
bool has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        auto comma = value.find(',');
        if (iequals(trim(value.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

// A step that found nothing wrong.
HeadScan passed() {
    HeadScan scan;
    scan.status = HeadStatus::complete;
    return scan;
}

HeadScan bad(int status, std::string code, std::string message) {
    HeadScan scan;
    scan.status = HeadStatus::bad;
    scan.error_status = status;
    scan.error_code = std::move(code);
    scan.error_message = std::move(message);
    return scan;
}

HeadScan malformed(const std::string& what) {
    return bad(400, "bad_request", "malformed request: " + what);
}

HeadScan too_large(const HeadLimits& limits) {
    return bad(431, "headers_too_large",
               "request head larger than " + std::to_string(limits.max_bytes) +
                   " bytes (server.max_header_bytes)");
}

HeadScan parse_request_line(std::string_view line, RequestHead& head) {
    auto first = line.find(' ');
    if (first == std::string_view::npos || first == 0) return malformed("bad request line");
    auto second = line.find(' ', first + 1);
    if (second == std::string_view::npos) {
        return malformed("no HTTP version in the request line (HTTP/0.9 is not served)");
    }
    std::string_view method = line.substr(0, first);
    std::string_view target = line.substr(first + 1, second - first - 1);
    std::string_view version = line.substr(second + 1);
    for (unsigned char c : method) {
        if (!is_tchar(c)) return malformed("bad character in the method");
    }
    if (target.empty() || target.front() != '/') {
        return malformed("the target must be a path starting with '/'");
    }
    for (unsigned char c : target) {
        // Visible ASCII only: a raw byte >= 0x80 (e.g. unencoded UTF-8) must be %-encoded.
        if (c <= 0x20 || c >= 0x7f) return malformed("bad character in the target");
    }
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
        return malformed("bad HTTP version");
    }
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
        return bad(505, "http_version_not_supported",
                   "HTTP version " + std::string(version.substr(5)) + " is not supported");
    }
    head.method = std::string(method);
    head.target = std::string(target);
    head.minor_version = version[7] - '0';
    head.keep_alive = head.minor_version == 1;
    return passed();
}

// Framing and connection fields, checked so that nothing ambiguous reaches a child.
HeadScan check_fields(RequestHead& head) {
    int lengths = 0, encodings = 0, hosts = 0;
    for (const auto& [name, value] : head.fields) {
        if (iequals(name, "content-length")) {
            ++lengths;
            if (value.empty() || value.size() > 18 ||
                !std::all_of(value.begin(), value.end(),
                             [](char c) { return c >= '0' && c <= '9'; })) {
                return malformed("bad Content-Length '" + value + "'");
            }
            head.content_length = std::stoull(value);
        } else if (iequals(name, "transfer-encoding")) {
            ++encodings;
            if (!iequals(value, "chunked")) {
                return malformed("Transfer-Encoding '" + value + "' (only chunked is accepted)");
            }
            head.chunked = true;
        } else if (iequals(name, "host")) {
            ++hosts;
        } else if (iequals(name, "connection")) {
            if (has_token(value, "close")) head.keep_alive = false;
            if (head.minor_version == 0 && has_token(value, "keep-alive")) head.keep_alive = true;
        } else if (iequals(name, "expect")) {
            if (!iequals(value, "100-continue"))
                return bad(417, "expectation_failed", "Expect '" + value + "' not supported");
            head.expect_continue = head.minor_version == 1;
        }
    }
    if (lengths > 1) return malformed("more than one Content-Length");
    if (encodings > 1) return malformed("more than one Transfer-Encoding");
    if (lengths && encodings) return malformed("both Content-Length and Transfer-Encoding");
    if (encodings && head.minor_version == 0) {
        return malformed("Transfer-Encoding in an HTTP/1.0 request");
    }
    if (hosts > 1) return malformed("more than one Host");
    if (hosts == 0 && head.minor_version == 1) return malformed("no Host field (HTTP/1.1)");
    return passed();
}

}  // namespace

HeadScan scan_request_head(std::string_view bytes, const HeadLimits& limits) {
    // Empty lines before a request are ignored (RFC 9112 2.2), a few at most.
    size_t pos = 0;
    while (pos + 1 < bytes.size() && bytes[pos] == '\r' && bytes[pos + 1] == '\n' && pos < 8) {
        pos += 2;
    }
    auto end = bytes.find("\r\n\r\n", pos);
    if (end == std::string_view::npos) {
        if (bytes.size() > limits.max_bytes) return too_large(limits);
        // A NUL or a bare LF can be refused before the head is complete.
        for (size_t i = pos; i < bytes.size(); ++i) {
            if (bytes[i] == '\0') return malformed("NUL byte in the head");
            if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r')) {
                return malformed("a line ends in LF without CR");
            }
        }
        return {};
    }
    if (end + 4 > limits.max_bytes) return too_large(limits);

    RequestHead head;
    head.size = end + 4;
    std::string_view text = bytes.substr(pos, end + 2 - pos);  // each line ends in CRLF
    bool first = true;
    while (!text.empty()) {
        auto eol = text.find("\r\n");
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol + 2);
        if (line.find('\n') != std::string_view::npos ||
            line.find('\r') != std::string_view::npos) {
            return malformed("a line ends in LF without CR, or has a stray CR");
        }
        if (first) {
            first = false;
            if (auto scan = parse_request_line(line, head); scan.status == HeadStatus::bad) {
                return scan;
            }
            continue;
        }
        if (line.front() == ' ' || line.front() == '\t') {
            return malformed("obsolete line folding in a header field");
        }
        auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return malformed("header without ':'");
        std::string_view name = line.substr(0, colon);
        for (unsigned char c : name) {
            if (!is_tchar(c))
                return malformed("bad character in a header name (or space before ':')");
        }
        std::string_view value = trim(line.substr(colon + 1));
        for (unsigned char c : value) {
            if (!is_value_char(c)) return malformed("bad character in a header value");
        }
        if (head.fields.size() == limits.max_fields) {
            return bad(431, "headers_too_large",
                       "more than " + std::to_string(limits.max_fields) +
                           " header fields (server.max_headers)");
        }
        head.fields.emplace_back(std::string(name), std::string(value));
    }
    if (auto scan = check_fields(head); scan.status == HeadStatus::bad) return scan;
    HeadScan scan;
    scan.status = HeadStatus::complete;
    scan.head = std::move(head);
    return scan;
}

}  // namespace gradatum::http
