#include "proxy/polling_socket.hpp"

#include <Poco/Net/NetException.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace gradatum::proxy {

using Poco::Net::Socket;

short poll_events_of(int mode) {
    short events = 0;
    if (mode & Socket::SELECT_READ) events |= POLLIN;
    if (mode & Socket::SELECT_WRITE) events |= POLLOUT;
    if (mode & Socket::SELECT_ERROR) events |= POLLPRI;  // POLLERR/POLLHUP come regardless
    return events;
}

bool poll_socket(int fd, const Poco::Timespan& timeout, int mode) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::microseconds(timeout.totalMicroseconds());
    pollfd p{fd, poll_events_of(mode), 0};
    long long wait_us = timeout.totalMicroseconds();
    while (true) {
        // Round up: a 100 µs wait must not become a busy 0 ms poll.
        int ms = wait_us <= 0
                     ? 0
                     : static_cast<int>(std::min<long long>((wait_us + 999) / 1000, 1'000'000'000));
        int rc = ::poll(&p, 1, ms);
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR)
            throw Poco::Net::NetException(std::string("poll: ") + std::strerror(errno));
        wait_us =
            std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
    }
}

bool PollingStreamSocketImpl::poll(const Poco::Timespan& timeout, int mode) {
    if (sockfd() == POCO_INVALID_SOCKET) throw Poco::Net::InvalidSocketException();
    return poll_socket(sockfd(), timeout, mode);
}

}  // namespace gradatum::proxy
