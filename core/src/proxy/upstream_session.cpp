#include "upstream_session.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gradatum::proxy {

namespace {

Poco::Net::StreamSocket connect_to(const std::string& host, uint16_t port,
                                   Poco::Timespan connect_timeout, Poco::Timespan io_timeout) {
    Poco::Net::StreamSocket socket;
    socket.connect(Poco::Net::SocketAddress(host, port), connect_timeout);
    socket.setNoDelay(true);  // small SSE writes must not wait for Nagle
    socket.setSendTimeout(io_timeout);
    socket.setReceiveTimeout(io_timeout);
    return socket;
}

}  // namespace

// A session built on a connected socket has no host of its own, so Poco never closes and
// reconnects it behind our back (it would for a keep-alive-less session with a host).
UpstreamSession::UpstreamSession(const std::string& host, uint16_t port,
                                 Poco::Timespan connect_timeout, Poco::Timespan io_timeout)
    : HTTPClientSession(connect_to(host, port, connect_timeout, io_timeout)) {
    abort_fd_ = ::fcntl(socket().impl()->sockfd(), F_DUPFD_CLOEXEC, 0);
    if (abort_fd_ < 0) throw Poco::IOException("dup of the upstream socket failed");
}

UpstreamSession::~UpstreamSession() {
    if (abort_fd_ >= 0) ::close(abort_fd_);
}

void UpstreamSession::shutdown_now() noexcept {
    if (abort_fd_ >= 0) ::shutdown(abort_fd_, SHUT_RDWR);
}

}  // namespace gradatum::proxy
