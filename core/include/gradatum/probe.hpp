// Small network helpers of the supervisor: a free port for a child, and one HTTP probe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace gradatum {

// Asks the kernel for a free TCP port on `host`. Another process may take it before the child
// binds; the child then fails to start and the restart policy picks a new port.
uint16_t free_port(const std::string& host);

struct ProbeAnswer {
    int status = 0;  // 0: no HTTP answer (refused, reset, timed out)
    std::string body;
    std::string error;  // why status is 0
};

ProbeAnswer http_probe(const std::string& host, uint16_t port, const std::string& method,
                       const std::string& path, std::chrono::milliseconds timeout);

}  // namespace gradatum
