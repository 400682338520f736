// HTTP/1.1 chunked framing, read incrementally. Poco's chunked stream reports a connection
// dropped mid-stream as a normal end; the proxy must tell the two apart to warn the client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace gradatum::proxy {

// Decodes: hands out the payload.
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

// Follows the framing without decoding it, so that a proxy can pass the chunks on verbatim (no
// copy of the payload, one write per read) and still knows where the body ends and where the
// bytes it has passed on stand.
//
// After each scan(): send held() (bytes of a line begun in an earlier read) and then the first
// committed() bytes of `data`. A size or CRLF line cut by a read is held back until it is whole,
// and the last chunk and the trailer are never passed on: once done(), the proxy ends the body
// with its own kLastChunk. So what has gone out always stops at a known point, and
// close_open_chunk() can end it cleanly (to add an error event) if the upstream breaks.
class ChunkedRelay {
  public:
    static constexpr const char* kLastChunk = "0\r\n\r\n";

    bool scan(const char* data, size_t size);
    const std::string& held() const { return released_; }
    size_t committed() const { return committed_; }
    // Bytes of the last scan()'s data that belong to the body (fewer once it is done).
    size_t used() const { return used_; }
    bool done() const { return state_ == State::finished; }

    // What completes the chunk in progress on the client's side: `filler` for the payload still
    // owed, then its CRLF; "" between chunks. `limit` caps the filler (returns false past it).
    bool close_open_chunk(char filler, size_t limit, std::string& out) const;
    // The last two payload bytes passed on (to close a half-written SSE event).
    const std::string& payload_tail() const { return tail_; }

  private:
    enum class State { size_line, payload, payload_end, trailer, finished, error };
    void keep_tail(const char* data, size_t size);
    State state_ = State::size_line;
    std::string line_;      // the control line being read
    std::string pending_;   // its bytes from earlier reads, not passed on yet
    std::string released_;  // pending_ released by this scan
    uint64_t remaining_ = 0;
    size_t committed_ = 0;
    size_t used_ = 0;
    std::string tail_;
};

// "1a;ext=1" -> 0x1a. False if the line does not start with 1 to 15 hex digits.
bool parse_chunk_size(const std::string& line, uint64_t& size);

}  // namespace gradatum::proxy
