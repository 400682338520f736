// The child's port lies outside the kernel's ephemeral range, where the engine's own outgoing
// connections (and everyone else's) take their local ports.
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "supervisor/child_port.hpp"

TEST_CASE("the ephemeral range is read from the kernel", "[supervisor][port]") {
    std::ifstream file("/proc/sys/net/ipv4/ip_local_port_range");
    int low = 0, high = 0;
    REQUIRE(file >> low >> high);
    auto [lo, hi] = gradatum::ephemeral_port_range();
    CHECK(lo == low);
    CHECK(hi == high);
}

TEST_CASE("child ports are free and outside the ephemeral range", "[supervisor][port]") {
    auto [low, high] = gradatum::ephemeral_port_range();
    for (int i = 0; i < 50; ++i) {
        uint16_t port = gradatum::pick_child_port("127.0.0.1");
        CAPTURE(port, low, high);
        CHECK((port < low || port > high));
        CHECK(port >= 1024);
        // Free: a listener can bind it at once.
        Poco::Net::ServerSocket socket;
        CHECK_NOTHROW(socket.bind(Poco::Net::SocketAddress("127.0.0.1", port), false, false));
    }
}
