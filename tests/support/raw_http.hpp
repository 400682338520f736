// The HTTP/1.1 client under http_client and sse_client: one request on a raw socket, because the
// tests need to see exactly what the engine sends (framing, repeated headers, each chunk).
#pragma once

#include <Poco/Net/StreamSocket.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "proxy/chunked_decoder.hpp"

namespace ge_test::detail {

using Headers = std::multimap<std::string, std::string>;  // names lower-cased

// The value of header `name` (any case), or "".
std::string find_header(const Headers& headers, const std::string& name);

class RawResponse {
  public:
    // Connects to 127.0.0.1:port and sends the request (with "Connection: close", and a
    // Content-Length unless `headers` frame the body). Throws on connection errors.
    RawResponse(uint16_t port, const std::string& method, const std::string& target,
                const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& headers,
                std::chrono::milliseconds timeout);

    // Reads the status line and headers. Returns false if the connection closed first.
    bool read_head(int& status, std::string& reason, Headers& headers);

    // Returns the next piece of body; empty when the body is over. `complete` says whether the
    // body ended as its framing promised.
    std::string read_body_piece(bool& complete);

    void close() { socket_.close(); }

  private:
    bool fill();

    Poco::Net::StreamSocket socket_;
    std::string buffer_;
    bool chunked_ = false;
    long long content_length_ = -1;
    long long received_ = 0;
    gradatum::proxy::ChunkedDecoder decoder_;
};

}  // namespace ge_test::detail
