#include "kill_child.hpp"

#include <signal.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>

namespace ge_test {

void kill_child(pid_t pid, int sig) {
    INFO("kill_child(" << pid << ", " << sig << ")");
    REQUIRE(pid > 1);
    REQUIRE(pid != getpid());
    errno = 0;
    int result = kill(pid, sig);
    INFO("kill: " << std::strerror(errno));
    REQUIRE(result == 0);
}

}  // namespace ge_test
