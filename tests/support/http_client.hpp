// Plain HTTP requests to an engine or a child, one connection each.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "clock.hpp"

namespace ge_test {

struct HttpResult {
    int status = 0;
    std::string reason;
    std::multimap<std::string, std::string> headers;  // names lower-cased
    std::string body;
    std::string header(const std::string& name) const;
    size_t count(const std::string& name) const { return headers.count(name); }
};

// One request over a new connection. Throws on connection errors.
HttpResult http(uint16_t port, const std::string& method, const std::string& target,
                const std::string& body = "",
                const std::vector<std::pair<std::string, std::string>>& headers = {},
                std::chrono::milliseconds timeout = 30s);

// True if a connection to 127.0.0.1:port is refused (nothing listens there any more); false if
// it is accepted. Other connection errors are thrown.
bool connection_refused(uint16_t port);

}  // namespace ge_test
