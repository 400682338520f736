// The supervisor's clock arithmetic, shared by its child and remote-target halves.
#pragma once

#include <chrono>
#include <cstdint>

namespace gradatum::supervisor_clock {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline uint64_t monotonic_ms() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<milliseconds>(Clock::now().time_since_epoch()).count());
}

inline uint64_t ms_since(Clock::time_point start) {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<milliseconds>(Clock::now() - start).count());
}

// Poll fast at first (a small model is ready in ~0.2 s), then back off for slow loads.
inline milliseconds readiness_poll_interval(Clock::time_point since) {
    auto elapsed = Clock::now() - since;
    if (elapsed < std::chrono::seconds(2)) return milliseconds(20);
    if (elapsed < std::chrono::seconds(10)) return milliseconds(100);
    return milliseconds(250);
}

}  // namespace gradatum::supervisor_clock
