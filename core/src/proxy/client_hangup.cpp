#include "proxy/client_hangup.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "http/server_request.hpp"

namespace gradatum::proxy {

bool client_hung_up(Poco::Net::HTTPServerRequest& request) {
    auto* own = dynamic_cast<http::ServerRequest*>(&request);
    if (!own) return false;
    // POLLRDHUP, not a peek: under TLS the close_notify bytes would read as data.
    pollfd p{own->socket().impl()->sockfd(), POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

bool client_closed(int fd) {
    char probe;
    ssize_t n = ::recv(fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

}  // namespace gradatum::proxy
