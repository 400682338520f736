// Processes as /proc shows them: who is whose child, who is still alive.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "clock.hpp"

namespace ge_test {

// Direct children of `pid`.
std::vector<pid_t> children_of(pid_t pid);
// True if `pid` exists and is not a zombie.
bool process_alive(pid_t pid);
// The NUL-separated entries of /proc/PID/cmdline or /proc/PID/environ ("" if unreadable).
std::vector<std::string> proc_strings(pid_t pid, const std::string& file);
// The LLAMA_API_KEY in a child's environment: the secret the engine sends it ("" if none). Only
// the process's own user can read it.
std::string child_api_key(pid_t pid);
// {"Authorization", "Bearer <key>"} for talking to a llama-server child directly, or none if
// it has no key.
std::vector<std::pair<std::string, std::string>> child_auth(pid_t pid);
// Waits until none of `pids` is alive.
bool wait_all_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds timeout);

}  // namespace ge_test
