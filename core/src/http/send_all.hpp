// Writing every byte of a gather list to a socket, however the kernel splits the writes.
#pragma once

#include <sys/uio.h>

namespace gradatum::http {

// Sends all of `iov[0..count)` (it is advanced in place as bytes go out) with sendmsg,
// MSG_NOSIGNAL. False when the peer is gone or the socket's send timeout passed (EAGAIN).
bool send_all(int fd, iovec* iov, int count);

}  // namespace gradatum::http
