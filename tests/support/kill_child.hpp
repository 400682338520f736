// The one way tests send a signal to a process they found (e.g. with only_child()).
#pragma once

#include <sys/types.h>

namespace ge_test {

// Sends `sig` to the single process `pid`. REQUIREs (Catch2) that pid is a real process id: not
// 0, -1 or a negative group id, which kill() would take as the caller's process group (ctest
// included) or as every process it may signal; not init; not the test process itself. Then
// REQUIREs that kill() succeeded, so a process that was already gone fails the test too.
// Call it from the test's own thread only (Catch2 assertions are not thread-safe).
void kill_child(pid_t pid, int sig);

}  // namespace ge_test
