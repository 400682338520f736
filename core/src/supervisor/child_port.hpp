// Picks the loopback port a child will listen on.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace gradatum {

// The kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), where it takes the
// local ports of outgoing connections, the engine's own to its children included.
std::pair<uint16_t, uint16_t> ephemeral_port_range();

// A port on `host` that is free now and lies outside the ephemeral range, so that no outgoing
// connection can take it between this check and the child's bind. Falls back to a kernel-chosen
// port when none is found. Another listener can still take it first; the child then fails to
// bind and is restarted on a new port.
uint16_t pick_child_port(const std::string& host);

}  // namespace gradatum
