// A loopback port for an engine under test to listen on.
#pragma once

#include <cstdint>

namespace ge_test {

// A port on 127.0.0.1 that is free now and lies outside the kernel's ephemeral range, so that
// no outgoing connection (the engine's own to its children included) can take it before the
// engine binds it. See gradatum::pick_child_port.
uint16_t free_port();

}  // namespace ge_test
