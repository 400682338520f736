// Processes as /proc shows them: who is whose child, who is still alive.
#pragma once

#include <sys/types.h>

#include <vector>

#include "clock.hpp"

namespace ge_test {

// Direct children of `pid`.
std::vector<pid_t> children_of(pid_t pid);
// True if `pid` exists and is not a zombie.
bool process_alive(pid_t pid);
// Waits until none of `pids` is alive.
bool wait_all_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds timeout);

}  // namespace ge_test
