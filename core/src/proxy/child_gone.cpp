#include "proxy/child_gone.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

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

bool process_exiting(pid_t pid) {
    if (pid <= 0) return false;
    const std::string path = "/proc/" + std::to_string(pid) + "/stat";
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT;  // reaped
    char buffer[1024];
    const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
    ::close(fd);
    if (n <= 0) return true;  // reaped between open and read (a live process's stat reads)
    buffer[n] = '\0';
    // "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may hold anything.
    const char* after_comm = std::strrchr(buffer, ')');
    char state = 0;
    unsigned long flags = 0;
    if (!after_comm ||
        std::sscanf(after_comm + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2) {
        return false;
    }
    constexpr unsigned long kExiting = 0x4;  // PF_EXITING (include/linux/sched.h)
    return state == 'Z' || state == 'X' || (flags & kExiting) != 0;
}

}  // namespace gradatum::proxy
