// Whether a child that closed a connection without answering is gone (died or dying), told by
// its listening port: a request it dropped after reading may then go to the next child, while a
// live child that closed a connection on purpose gets no second copy of the request.
#pragma once

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

}  // namespace gradatum::proxy
