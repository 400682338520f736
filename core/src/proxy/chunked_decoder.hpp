// Decodes HTTP/1.1 chunked framing incrementally. Poco's chunked stream reports a connection
// dropped mid-stream as a normal end; the proxy must tell the two apart to warn the client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gradatum::proxy {

class ChunkedDecoder {
  public:
    // Appends the payload found in `data` to `out`. Returns false on a framing error. `used`, if
    // given, receives how many bytes of `data` belong to the body (fewer once it is done).
    bool feed(const char* data, size_t size, std::string& out, size_t* used = nullptr);
    // True once the last chunk and the trailer have been read: the body is complete.
    bool done() const { return state_ == State::finished; }

  private:
    enum class State { size_line, payload, payload_end, trailer, finished, error };
    bool end_size_line();
    State state_ = State::size_line;
    std::string line_;
    uint64_t remaining_ = 0;
};

}  // namespace gradatum::proxy
