#include "proxy/client_hangup.hpp"

#include <poll.h>

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

}  // namespace gradatum::proxy
