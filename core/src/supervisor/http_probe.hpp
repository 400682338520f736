// One HTTP request to a child, to check its readiness or liveness.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "backend_types.hpp"

namespace gradatum {

struct ProbeAnswer {
    int status = 0;  // 0: no HTTP answer (refused, reset, timed out)
    std::string body;
    std::string error;  // why status is 0
};

// Sends `probe` (its headers, and its body with Content-Type and Content-Length when it has
// one) and reads the whole answer; every step is bounded by `timeout`.
ProbeAnswer http_probe(const std::string& host, uint16_t port, const ProbeRequest& probe,
                       std::chrono::milliseconds timeout);

}  // namespace gradatum
