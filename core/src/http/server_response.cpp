#include "http/server_response.hpp"

#include <Poco/Exception.h>

#include <cstdio>
#include <sstream>

namespace gradatum::http {

// The body's framing, applied as the handler writes: a chunk per flush (events go out as they
// come), or raw bytes. 16 KiB between flushes: fewer, larger writes for big bodies.
class ServerResponse::BodyBuffer : public std::streambuf {
  public:
    enum class Framing { none, raw, chunked };

    BodyBuffer(ClientConnection& connection, Framing framing)
        : connection_(connection), framing_(framing) {
        setp(buffer_, buffer_ + sizeof buffer_);
    }

    bool failed() const { return failed_; }
    uint64_t written() const { return written_; }

    // The last chunk; nothing for other framings.
    bool end() {
        if (sync() != 0) return false;
        if (framing_ == Framing::chunked && !failed_) failed_ = !connection_.send_all("0\r\n\r\n");
        return !failed_;
    }

  protected:
    int overflow(int c) override {
        if (sync() != 0) return traits_type::eof();
        if (c != traits_type::eof()) {
            *pptr() = static_cast<char>(c);
            pbump(1);
        }
        return traits_type::not_eof(c);
    }

    int sync() override {
        size_t size = static_cast<size_t>(pptr() - pbase());
        setp(buffer_, buffer_ + sizeof buffer_);
        if (failed_) return -1;
        if (framing_ != Framing::none) written_ += size;
        if (size == 0 || framing_ == Framing::none) return 0;
        if (framing_ == Framing::raw) {
            failed_ = !connection_.send_all(std::string_view(buffer_, size));
        } else {
            char line[24];
            int n = std::snprintf(line, sizeof line, "%zx\r\n", size);
            iovec parts[3] = {
                {line, static_cast<size_t>(n)}, {buffer_, size}, {const_cast<char*>("\r\n"), 2}};
            failed_ = !connection_.send_all(parts, 3);
        }
        return failed_ ? -1 : 0;
    }

  private:
    ClientConnection& connection_;
    Framing framing_;
    bool failed_ = false;
    uint64_t written_ = 0;
    char buffer_[16384];
};

ServerResponse::ServerResponse(ClientConnection& connection, bool head_request)
    : connection_(connection), head_request_(head_request) {}

ServerResponse::~ServerResponse() = default;

void ServerResponse::sendContinue() {
    if (continue_sent_ || sent_) return;
    continue_sent_ = true;
    connection_.send_all(getVersion() + " 100 Continue\r\n\r\n");
}

std::ostream& ServerResponse::send() {
    if (sent_) throw Poco::IllegalStateException("the response was already sent");
    sent_ = true;
    int status = getStatus();
    bool bodiless = head_request_ || status == 204 || status == 304 || status < 200;
    BodyBuffer::Framing framing = BodyBuffer::Framing::raw;
    if (bodiless) {
        framing = BodyBuffer::Framing::none;
    } else if (getChunkedTransferEncoding()) {
        framing = BodyBuffer::Framing::chunked;
    } else if (!hasContentLength()) {
        setKeepAlive(false);  // the close ends the body
    }
    std::ostringstream head;
    write(head);  // status line, fields and the empty line
    head_sent_at_ = std::chrono::steady_clock::now();
    bool ok = connection_.send_all(head.str());
    body_ = std::make_unique<BodyBuffer>(connection_, framing);
    stream_ = std::make_unique<std::ostream>(body_.get());
    if (!ok) stream_->setstate(std::ios::badbit);
    return *stream_;
}

void ServerResponse::sendFile(const std::string&, const std::string&) {
    throw Poco::NotImplementedException("sendFile");
}

void ServerResponse::sendBuffer(const void* buffer, std::size_t length) {
    setContentLength64(static_cast<Poco::Int64>(length));
    send().write(static_cast<const char*>(buffer), static_cast<std::streamsize>(length));
}

void ServerResponse::redirect(const std::string& uri, HTTPStatus status) {
    setStatusAndReason(status);
    set("Location", uri);
    setContentLength(0);
    send();
}

void ServerResponse::requireAuthentication(const std::string& realm) {
    setStatusAndReason(HTTP_UNAUTHORIZED);
    set("WWW-Authenticate", "Basic realm=\"" + realm + "\"");
    setContentLength(0);
    send();
}

void ServerResponse::flush_body() {
    if (stream_) stream_->flush();
}

void ServerResponse::take_over_body() {
    if (stream_) stream_->flush();
    body_taken_over_ = true;
}

uint64_t ServerResponse::body_bytes() const {
    return (body_ ? body_->written() : 0) + handler_body_bytes_;
}

bool ServerResponse::finish() {
    if (!sent_) return false;
    if (!stream_) return getKeepAlive();  // written by the handler itself
    if (body_taken_over_) return !body_->failed() && getKeepAlive();
    stream_->flush();
    bool ok = body_->end() && !body_->failed();
    return ok && getKeepAlive();
}

}  // namespace gradatum::http
