// An HTTP client session to a child that exposes raw reads: the proxy pumps bytes as they arrive
// (no full-buffer waits, POCO-NOTES item 2) and parses the framing itself.
#pragma once

#include <Poco/Net/HTTPClientSession.h>

namespace gradatum::proxy {

class UpstreamSession : public Poco::Net::HTTPClientSession {
  public:
    using HTTPClientSession::HTTPClientSession;
    // Returns what is buffered, or else what one recv() gives; 0 at end of stream.
    int read_some(char* buffer, std::streamsize length) { return read(buffer, length); }
    int buffered_bytes() const { return buffered(); }
};

}  // namespace gradatum::proxy
