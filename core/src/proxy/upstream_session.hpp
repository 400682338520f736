// An HTTP client session to a child, connected at once, that exposes raw reads (the proxy pumps
// bytes as they arrive, POCO-NOTES item 2, and parses the framing itself) and can be shut down
// from another thread.
#pragma once

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Timespan.h>

#include <cstdint>
#include <string>

namespace gradatum::proxy {

class UpstreamSession : public Poco::Net::HTTPClientSession {
  public:
    // Connects now (throws Poco::Exception), so that an abort always has a socket to reach.
    // `io_timeout` bounds each send and each wait for bytes, never the whole exchange.
    UpstreamSession(const std::string& host, uint16_t port, Poco::Timespan connect_timeout,
                    Poco::Timespan io_timeout);
    ~UpstreamSession() override;

    // Returns what is buffered, or else what one recv() gives; 0 at end of stream.
    int read_some(char* buffer, std::streamsize length) { return read(buffer, length); }
    int buffered_bytes() const { return buffered(); }

    // Ends the exchange from any thread: the reader sees an end of stream. Works on a duplicate
    // of the socket's descriptor, so it stays safe after Poco closed its own on an error.
    void shutdown_now() noexcept;

  private:
    int abort_fd_ = -1;
};

}  // namespace gradatum::proxy
