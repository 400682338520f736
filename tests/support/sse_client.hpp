// Streamed (SSE) requests: each event with the time it reached the client.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "clock.hpp"

namespace ge_test {

struct StreamResult {
    int status = 0;
    std::multimap<std::string, std::string> headers;  // names lower-cased
    std::vector<std::string> events;                  // "data: ..." without the blank line
    std::vector<Clock::time_point> arrived;           // when each event's last byte was read
    bool complete = false;                            // the chunked body ended properly
    std::string header(const std::string& name) const;
};

// Sends a POST and reads SSE events until the body ends, the connection drops, or `stop_after`
// events (then closes the connection: a client that goes away).
// `headers` are sent besides Content-Type (e.g. a child's Authorization).
// `on_event` runs after each event arrives, on the calling thread, with the number of events
// so far (e.g. to kill the child mid-stream, or to tell another thread the stream has begun).
StreamResult stream(uint16_t port, const std::string& target, const std::string& body,
                    std::chrono::milliseconds timeout = 30s, size_t stop_after = 0,
                    const std::function<void(size_t count)>& on_event = nullptr,
                    const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace ge_test
