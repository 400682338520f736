// Whether a child that closed a connection without answering is gone (died or dying), told by
// its listening port: a request it dropped after reading may then go to the next child, while a
// live child that closed a connection on purpose gets no second copy of the request.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace gradatum::proxy {

// True if host:port refuses a connection, or accepts one that the kernel then resets (the
// listener closed with it still queued: a dying process closes its listener an instant after
// the connection that woke us). A connection that stays open for `settle` means a live
// listener; a connect timeout or any other error is not proof of death either (false).
bool child_stopped_listening(const std::string& host, uint16_t port,
                             std::chrono::milliseconds settle = std::chrono::milliseconds(30));

// True if process `pid` (> 0) is exiting or gone: the kernel marked it exiting, it is a zombie,
// or it was reaped. The port alone cannot always tell: a killed process releases its sockets one
// by one, and when it is preempted between the connection and the listener the port still
// takes connections for as long as it waits for a CPU (seen on a loaded 2-core machine), or
// forever when another process shares the listener.
bool process_exiting(pid_t pid);

}  // namespace gradatum::proxy
