#include "upstream_session.hpp"

#include "http/send_all.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "proxy/polling_socket.hpp"

namespace gradatum::proxy {

namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>(ms.count() % 1000 * 1000);
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1000;  // 0 would mean "no timeout"
    return tv;
}

Poco::Timespan to_timespan(std::chrono::milliseconds ms) {
    return Poco::Timespan(static_cast<long>(ms.count() / 1000),
                          static_cast<long>(ms.count() % 1000 * 1000));
}

}  // namespace

std::unique_ptr<UpstreamConnection> UpstreamConnection::open(
    const std::string& host, uint16_t port, std::chrono::milliseconds connect_timeout,
    std::chrono::milliseconds send_timeout, std::chrono::milliseconds wait_slice) {
    // Poco connects (non-blocking connect, then one poll(2) through PollingStreamSocketImpl).
    Poco::Net::StreamSocket socket(new PollingStreamSocketImpl);
    const std::string where = host + ":" + std::to_string(port);
    try {
        socket.connect(Poco::Net::SocketAddress(host, port), to_timespan(connect_timeout));
    } catch (const Poco::Net::ConnectionRefusedException& e) {
        throw ConnectError(ConnectError::Kind::refused, "connection to " + where + " refused");
    } catch (const Poco::TimeoutException& e) {
        throw ConnectError(ConnectError::Kind::timed_out, "connection to " + where + " timed out");
    } catch (const Poco::Exception& e) {
        throw ConnectError(ConnectError::Kind::other,
                           "cannot connect to " + where + ": " + e.displayText());
    }
    std::unique_ptr<UpstreamConnection> c(new UpstreamConnection(socket, host, port));
    int one = 1;  // small SSE writes must not wait for Nagle (nor our small request heads)
    ::setsockopt(c->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval send = to_timeval(send_timeout);
    ::setsockopt(c->fd_, SOL_SOCKET, SO_SNDTIMEO, &send, sizeof send);
    c->set_wait_slice(wait_slice);
    return c;
}

UpstreamConnection::UpstreamConnection(Poco::Net::StreamSocket socket, std::string host,
                                       uint16_t port)
    : socket_(std::move(socket)), host_(std::move(host)), port_(port) {
    fd_ = socket_.impl()->sockfd();
    abort_fd_ = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    if (abort_fd_ < 0) {
        throw ConnectError(ConnectError::Kind::other, "dup of the upstream socket failed");
    }
    ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
}

UpstreamConnection::~UpstreamConnection() {
    if (abort_fd_ >= 0) ::close(abort_fd_);
    // socket_ closes fd_.
}

void UpstreamConnection::set_wait_slice(std::chrono::milliseconds slice) {
    if (slice == wait_slice_) return;
    timeval tv = to_timeval(slice);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    wait_slice_ = slice;
}

bool UpstreamConnection::send_all(iovec* iov, int count) {
    return http::send_all(fd_, iov, count);  // EAGAIN there is the send timeout
}

ssize_t UpstreamConnection::receive(char* buffer, size_t length) {
    while (true) {
        ssize_t n = ::recv(fd_, buffer, length, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EWOULDBLOCK) errno = EAGAIN;
        return n;
    }
}

bool UpstreamConnection::idle_and_open() const {
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, 0);
    return rc == 0;
}

void UpstreamConnection::shutdown_now() noexcept {
    if (abort_fd_ >= 0) ::shutdown(abort_fd_, SHUT_RDWR);
}

}  // namespace gradatum::proxy
