#include "supervisor/child_port.hpp"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <fstream>
#include <random>

namespace gradatum {

namespace {

constexpr int kFirstUnprivileged = 1024;
constexpr int kAttempts = 64;

bool can_bind(const std::string& host, uint16_t port) {
    try {
        Poco::Net::ServerSocket socket;
        socket.bind(Poco::Net::SocketAddress(host, port), /*reuseAddress=*/false,
                    /*reusePort=*/false);
        socket.close();
        return true;
    } catch (const Poco::Exception&) {
        return false;
    }
}

}  // namespace

std::pair<uint16_t, uint16_t> ephemeral_port_range() {
    std::ifstream file("/proc/sys/net/ipv4/ip_local_port_range");
    int low = 32768, high = 60999;  // Linux's default
    if (!(file >> low >> high) || low < 1 || high > 65535 || low > high) {
        low = 32768;
        high = 60999;
    }
    return {static_cast<uint16_t>(low), static_cast<uint16_t>(high)};
}

uint16_t pick_child_port(const std::string& host) {
    auto [low, high] = ephemeral_port_range();
    // The ports outside [low, high], numbered 0..count-1: first those below, then those above.
    const int below = std::max(0, low - kFirstUnprivileged);
    const int above = 65535 - high;
    const int count = below + above;
    if (count > 0) {
        thread_local std::mt19937 random{std::random_device{}()};
        std::uniform_int_distribution<int> pick(0, count - 1);
        for (int i = 0; i < kAttempts; ++i) {
            int n = pick(random);
            auto port =
                static_cast<uint16_t>(n < below ? kFirstUnprivileged + n : high + 1 + (n - below));
            if (can_bind(host, port)) return port;
        }
    }
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(host, 0));
    return socket.address().port();
}

}  // namespace gradatum
