#include "http/send_all.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

namespace gradatum::http {

bool send_all(int fd, iovec* iov, int count) {
    while (count > 0 && iov->iov_len == 0) {
        ++iov;
        --count;
    }
    while (count > 0) {
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = static_cast<size_t>(count);
        ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        auto sent = static_cast<size_t>(n);
        while (count > 0 && sent >= iov->iov_len) {
            sent -= iov->iov_len;
            ++iov;
            --count;
        }
        if (count > 0) {
            iov->iov_base = static_cast<char*>(iov->iov_base) + sent;
            iov->iov_len -= sent;
        }
    }
    return true;
}

}  // namespace gradatum::http
