#include "retry_policy.hpp"

#include <algorithm>

namespace remote {

RetryPolicy::RetryPolicy(std::chrono::milliseconds first, std::chrono::milliseconds max)
    : first_(first), max_(max) {}

Retry RetryPolicy::on_down(bool was_ready, const std::string& core_reason) {
    if (was_ready) failures_ = 0;
    // Doubling stops at the cap long before it could overflow: 2^31 ms is 24 days.
    long long delay = first_.count();
    for (int i = 0; i < failures_ && delay < max_.count(); ++i) delay *= 2;
    delay = std::min<long long>(delay, max_.count());
    ++failures_;
    return {static_cast<uint32_t>(delay), "remote unreachable: " + core_reason};
}

}  // namespace remote
