#include "proxy/answer_body.hpp"

#include <cstdio>

namespace gradatum::proxy {

std::string hex(size_t n) {
    char digits[20];
    int length = std::snprintf(digits, sizeof digits, "%zx", n);
    return std::string(digits, static_cast<size_t>(length));
}

void append_child_fields(std::string& head, const ResponseHead& up, Framing framing, Relay relay,
                         bool keep_alive) {
    for (const auto& [name, value] : up.fields) {
        if (is_dropped(name, up.listed)) continue;
        head.append(name.data(), name.size());
        head += ": ";
        head.append(value.data(), value.size());
        head += "\r\n";
    }
    // Tell buffering proxies in front of the engine (nginx) to pass events on at once.
    if (up.event_stream && !up.has_accel_buffering) head += "X-Accel-Buffering: no\r\n";
    if (framing == Framing::content_length || framing == Framing::none) {
        if (up.content_length >= 0) {
            head += "Content-Length: ";
            head += std::to_string(up.content_length);
            head += "\r\n";
        }
    } else if (relay == Relay::chunks || relay == Relay::rechunk) {
        head += "Transfer-Encoding: chunked\r\n";
    }
    head += keep_alive ? "Connection: Keep-Alive\r\n\r\n" : "Connection: close\r\n\r\n";
}

}  // namespace gradatum::proxy
