// A loopback port for an engine under test to listen on.
#pragma once

#include <cstdint>

namespace ge_test {

// A port on 127.0.0.1 that is free now (the kernel picks it).
uint16_t free_port();

}  // namespace ge_test
