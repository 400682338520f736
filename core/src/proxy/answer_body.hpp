// The body of a child's answer on its way to the client: how it is framed, how it is passed on
// (verbatim, chunk framing followed, decoded for HTTP/1.0, re-chunked), and the writes that carry
// it. Shared by the worker's forwarder and the reactor's fast lane.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/client_connection.hpp"
#include "http/send_all.hpp"
#include "proxy/chunked_decoder.hpp"
#include "proxy/response_head.hpp"

namespace gradatum::proxy {

// A stream cut inside a chunk is ended by filling the chunk (with newlines, which SSE ignores)
// so that the error event can follow; past this many missing bytes it is reset instead.
constexpr size_t kMaxFiller = 64 * 1024;

std::string hex(size_t n);

// Up to a few pieces for one write to the client; `owned` keeps small strings alive until then.
class Batch {
  public:
    void add(const char* data, size_t size) {
        if (size > 0 && count_ < kMax) iov_[count_++] = {const_cast<char*>(data), size};
    }
    void add_owned(std::string text) {
        if (owned_count_ == kMaxOwned) return;  // not reached: at most three per batch
        owned_[owned_count_] = std::move(text);
        add(owned_[owned_count_].data(), owned_[owned_count_].size());
        ++owned_count_;
    }
    // Every byte, blocking (bounded by the send timeout); TLS connections write through their
    // session (one record per batch). False if the client is gone or stopped reading.
    bool send(http::ClientConnection& client) {
        if (count_ == 0) return true;
        if (client.secure()) return client.send_all(iov_, count_);
        return http::send_all(client.fd(), iov_, count_);
    }
    void append_to(std::string& text) const {
        for (int i = 0; i < count_; ++i) {
            text.append(static_cast<const char*>(iov_[i].iov_base), iov_[i].iov_len);
        }
    }
    size_t total() const {
        size_t n = 0;
        for (int i = 0; i < count_; ++i) n += iov_[i].iov_len;
        return n;
    }

    // One write that never blocks. False if the client is gone; what did not fit is appended to
    // `rest` (the caller finishes it with a blocking write).
    bool send_now(int fd, std::string& rest) {
        if (count_ == 0) return true;
        ssize_t n;
        do {
            msghdr msg{};
            msg.msg_iov = iov_;
            msg.msg_iovlen = static_cast<size_t>(count_);
            n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
            n = 0;
        }
        auto sent = static_cast<size_t>(n);
        for (int i = 0; i < count_; ++i) {
            size_t skip = std::min(sent, iov_[i].iov_len);
            sent -= skip;
            rest.append(static_cast<const char*>(iov_[i].iov_base) + skip, iov_[i].iov_len - skip);
        }
        return true;
    }

  private:
    static constexpr int kMax = 8;
    static constexpr int kMaxOwned = 4;
    iovec iov_[kMax];
    int count_ = 0;
    std::string owned_[kMaxOwned];
    int owned_count_ = 0;
};

// ---- the upstream body, as the client gets it -----------------------------------------------

// How the upstream body ends.
enum class Framing { none, content_length, chunked, until_close };

// How it is passed on.
enum class Relay {
    verbatim,  // the same bytes (Content-Length, or none)
    chunks,    // chunked to an HTTP/1.1 client: verbatim, framing followed by ChunkedRelay
    decode,    // chunked to an HTTP/1.0 client: payload only, the close ends it
    rechunk,   // close-delimited to an HTTP/1.1 client: each read becomes one chunk
    raw,       // close-delimited to an HTTP/1.0 client
};

class Body {
  public:
    Body(Framing framing, Relay relay, int64_t length)
        : framing_(framing), relay_(relay), length_(length) {}

    bool complete() const {
        switch (framing_) {
            case Framing::none:
                return true;
            case Framing::content_length:
                return received_ >= length_;
            case Framing::chunked:
                return relay_ == Relay::chunks ? relay_state_.done() : decoder_.done();
            case Framing::until_close:
                return ended_;
        }
        return false;
    }
    // Bytes came after the end of the body (the connection cannot be reused).
    bool overrun() const { return overrun_; }

    // Adds what the client gets of `data` to `out`. False on bad framing.
    bool take(const char* data, size_t size, Batch& out) {
        if (size == 0) return true;
        switch (relay_) {
            case Relay::verbatim: {
                auto left = static_cast<size_t>(std::max<int64_t>(length_ - received_, 0));
                if (framing_ == Framing::none) left = 0;
                size_t n = std::min(size, left);
                overrun_ = overrun_ || n < size;
                received_ += static_cast<int64_t>(n);
                out.add(data, n);
                note_tail(data, n);
                return true;
            }
            case Relay::chunks: {
                if (!relay_state_.scan(data, size)) return false;
                overrun_ = overrun_ || relay_state_.used() < size;
                if (!relay_state_.held().empty()) out.add_owned(relay_state_.held());
                out.add(data, relay_state_.committed());
                if (relay_state_.done()) out.add(ChunkedRelay::kLastChunk, 5);
                return true;
            }
            case Relay::decode: {
                payload_.clear();
                size_t used = 0;
                if (!decoder_.feed(data, size, payload_, &used)) return false;
                overrun_ = overrun_ || used < size;
                note_tail(payload_.data(), payload_.size());
                out.add(payload_.data(), payload_.size());
                return true;
            }
            case Relay::rechunk: {
                size_t n = size;
                if (framing_ == Framing::content_length) {
                    // Only behind the engine's own SSE head: the client's body is chunked.
                    n = std::min(size,
                                 static_cast<size_t>(std::max<int64_t>(length_ - received_, 0)));
                    overrun_ = overrun_ || n < size;
                    received_ += static_cast<int64_t>(n);
                }
                if (n > 0) {
                    out.add_owned(hex(n) + "\r\n");
                    out.add(data, n);
                    out.add("\r\n", 2);
                    note_tail(data, n);
                }
                if (framing_ == Framing::content_length && n > 0 && complete()) {
                    out.add(ChunkedRelay::kLastChunk, 5);
                }
                return true;
            }
            case Relay::raw:
                out.add(data, size);
                note_tail(data, size);
                return true;
        }
        return false;
    }

    // The upstream closed: the end of a close-delimited body. Adds its last chunk if any.
    void end(Batch& out) {
        ended_ = true;
        if (relay_ == Relay::rechunk) out.add(ChunkedRelay::kLastChunk, 5);
    }

    // Ends the client's body after a break, with `event` as its last SSE event. False if the
    // body cannot be mended (the caller resets the connection instead).
    bool end_with_event(const std::string& event, Batch& out) {
        std::string tail = relay_ == Relay::chunks ? relay_state_.payload_tail() : tail_;
        std::string text;
        if (relay_ == Relay::chunks) {
            std::string close;
            if (!relay_state_.close_open_chunk('\n', kMaxFiller, close)) return false;
            if (close.size() > 2) tail = "\n\n";  // filled with newlines
            out.add_owned(std::move(close));
        }
        // A half-written event is closed first, so that the error is an event of its own.
        text = (tail.size() == 2 && tail != "\n\n" ? "\n\n" : "") + event;
        if (relay_ == Relay::chunks || relay_ == Relay::rechunk) {
            out.add_owned(hex(text.size()) + "\r\n" + text + "\r\n" + ChunkedRelay::kLastChunk);
        } else {
            out.add_owned(std::move(text));
        }
        return true;
    }

  private:
    void note_tail(const char* data, size_t size) {
        if (size >= 2) {
            tail_.assign(data + size - 2, 2);
        } else if (size == 1) {
            tail_ += data[0];
            if (tail_.size() > 2) tail_.erase(0, tail_.size() - 2);
        }
    }

    Framing framing_;
    Relay relay_;
    int64_t length_;
    int64_t received_ = 0;
    bool ended_ = false;
    bool overrun_ = false;
    ChunkedRelay relay_state_;
    ChunkedDecoder decoder_;
    std::string payload_;
    std::string tail_;
};

inline Framing framing_of(std::string_view method, const ResponseHead& head) {
    if (method == "HEAD" || head.status == 204 || head.status == 304 ||
        (head.status >= 100 && head.status < 200)) {
        return Framing::none;
    }
    if (head.chunked) return Framing::chunked;
    if (head.other_coding) return Framing::until_close;
    if (head.content_length >= 0) return Framing::content_length;
    return Framing::until_close;
}

// Appends the child's end-to-end fields, X-Accel-Buffering for an event stream, the framing the
// client gets and Connection to a head whose status line and own fields are written.
void append_child_fields(std::string& head, const ResponseHead& up, Framing framing, Relay relay,
                         bool keep_alive);

}  // namespace gradatum::proxy
