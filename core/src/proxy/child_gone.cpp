#include "proxy/child_gone.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "proxy/upstream_session.hpp"

namespace gradatum::proxy {

bool child_stopped_listening(const std::string& host, uint16_t port,
                             std::chrono::milliseconds settle) {
    using std::chrono::milliseconds;
    std::unique_ptr<UpstreamConnection> probe;
    try {
        probe = UpstreamConnection::open(host, port, milliseconds(500), milliseconds(500),
                                         milliseconds(100));
    } catch (const ConnectError& e) {
        return e.kind == ConnectError::Kind::refused;
    }
    // Accepted by the kernel: a closing listener resets what is still in its queue.
    pollfd p{probe->fd(), POLLIN | POLLRDHUP, 0};
    int rc;
    do {
        rc = ::poll(&p, 1, static_cast<int>(settle.count()));
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0) return false;
    return (p.revents & (POLLERR | POLLHUP | POLLRDHUP)) != 0;
}

}  // namespace gradatum::proxy
