// The clock tests measure time with, and the chrono literals they write timeouts in.
#pragma once

#include <chrono>

namespace ge_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

}  // namespace ge_test
