// One HTTP request to a child, to check its readiness or liveness.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace gradatum {

struct ProbeAnswer {
    int status = 0;  // 0: no HTTP answer (refused, reset, timed out)
    std::string body;
    std::string error;  // why status is 0
};

ProbeAnswer http_probe(const std::string& host, uint16_t port, const std::string& method,
                       const std::string& path, std::chrono::milliseconds timeout);

}  // namespace gradatum
