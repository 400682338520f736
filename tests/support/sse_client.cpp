#include "sse_client.hpp"

#include "raw_http.hpp"

namespace ge_test {

std::string StreamResult::header(const std::string& name) const {
    return detail::find_header(headers, name);
}

StreamResult stream(uint16_t port, const std::string& target, const std::string& body,
                    std::chrono::milliseconds timeout, size_t stop_after,
                    const std::function<void(size_t count)>& on_event,
                    const std::vector<std::pair<std::string, std::string>>& headers) {
    std::vector<std::pair<std::string, std::string>> all = {{"Content-Type", "application/json"}};
    all.insert(all.end(), headers.begin(), headers.end());
    detail::RawResponse raw(port, "POST", target, body, all, timeout);
    StreamResult result;
    std::string reason;
    if (!raw.read_head(result.status, reason, result.headers)) return result;
    std::string pending;
    while (true) {
        bool complete = false;
        std::string piece = raw.read_body_piece(complete);
        auto now = Clock::now();
        pending += piece;
        size_t end;
        while ((end = pending.find("\n\n")) != std::string::npos) {
            std::string event = pending.substr(0, end);
            pending.erase(0, end + 2);
            if (event.empty()) continue;
            result.events.push_back(event);
            result.arrived.push_back(now);
            if (on_event) on_event(result.events.size());
            if (stop_after && result.events.size() >= stop_after) {
                raw.close();
                return result;
            }
        }
        if (complete) {
            result.complete = true;
            break;
        }
        if (piece.empty()) break;
    }
    return result;
}

}  // namespace ge_test
