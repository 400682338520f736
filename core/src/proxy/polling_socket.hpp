// A socket whose waits cost one poll(2). Poco 1.11's SocketImpl::poll creates an epoll instance,
// registers the socket, waits and closes the instance again: four system calls and a file
// allocation for every wait (a connect with a timeout waits once). This implementation keeps
// Poco's interface and semantics and answers poll() with poll(2).
#pragma once

#include <Poco/Net/Socket.h>
#include <Poco/Net/StreamSocketImpl.h>

namespace gradatum::proxy {

// Poco's socket mode flags (SELECT_READ/WRITE/ERROR) as poll(2) events.
short poll_events_of(int mode);

// Waits up to `timeout` (restarted after EINTR with the time left); true if the socket is ready
// for `mode` or has an error or hang-up to report. Throws Poco's exception on a poll failure.
bool poll_socket(int fd, const Poco::Timespan& timeout, int mode);

class PollingStreamSocketImpl : public Poco::Net::StreamSocketImpl {
  public:
    using Poco::Net::StreamSocketImpl::StreamSocketImpl;
    bool poll(const Poco::Timespan& timeout, int mode) override;
};

}  // namespace gradatum::proxy
