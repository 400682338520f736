// What to do when a remote target went down: probe again, always, after a delay that doubles
// with each failure in a row (from remote.retry_interval up to remote.retry_max) and starts over
// once the target was ready again. The engine cannot restart a server it does not run, so giving
// up would only turn an outage into a model that stays failed after the server is back.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace remote {

struct Retry {
    uint32_t delay_ms = 0;
    std::string reason;
};

class RetryPolicy {
  public:
    RetryPolicy(std::chrono::milliseconds first, std::chrono::milliseconds max);
    // `was_ready`: the attempt that ended reached ready; `core_reason`: why it ended.
    Retry on_down(bool was_ready, const std::string& core_reason);

  private:
    std::chrono::milliseconds first_, max_;
    int failures_ = 0;  // in a row, since the target was last ready
};

}  // namespace remote
