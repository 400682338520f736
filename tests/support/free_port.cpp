#include "free_port.hpp"

#include "supervisor/child_port.hpp"

namespace ge_test {

uint16_t free_port() {
    return gradatum::pick_child_port("127.0.0.1");
}

}  // namespace ge_test
