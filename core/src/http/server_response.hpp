// The engine's response to one request, behind Poco's HTTPServerResponse interface (so handlers
// are written against Poco), written straight to the client's socket: the head in one send, the
// body framed by Content-Length, chunks (one per flush), or the connection's close.
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>

#include "http/client_connection.hpp"

namespace gradatum::http {

class ServerResponse : public Poco::Net::HTTPServerResponse {
  public:
    // `head_request`: the answer to HEAD carries no body, whatever the handler writes.
    ServerResponse(ClientConnection& connection, bool head_request);
    ~ServerResponse() override;

    void sendContinue() override;
    std::ostream& send() override;
    void sendFile(const std::string& path, const std::string& mediaType) override;
    void sendBuffer(const void* buffer, std::size_t length) override;
    void redirect(const std::string& uri, HTTPStatus status = HTTP_FOUND) override;
    void requireAuthentication(const std::string& realm) override;
    bool sent() const override { return sent_; }

    // The handler writes the whole response to the connection itself (the forwarder passes a
    // child's answer through): it counts as sent from now on (head_sent_at()), finish() adds
    // nothing to it, and the handler reports the body bytes it wrote.
    void mark_sent_by_handler() {
        sent_ = true;
        head_sent_at_ = std::chrono::steady_clock::now();
    }
    void add_body_bytes(uint64_t bytes) { handler_body_bytes_ += bytes; }
    // After send(): the handler writes the rest of the body to the connection itself, its end
    // included (the forwarder relaying a child's event stream after the engine's own SSE head
    // and comments). What the stream holds goes out now; finish() adds nothing after it.
    void take_over_body();

    // After the handler: ends the body (the last chunk) unless writing failed. True when the
    // connection may carry another request.
    bool finish();

    // For the metrics and the access log: body bytes written, and when the head went out.
    uint64_t body_bytes() const;
    // Writes out what the handler left in the body's buffer (so that body_bytes() counts it).
    void flush_body();
    std::chrono::steady_clock::time_point head_sent_at() const { return head_sent_at_; }

  private:
    class BodyBuffer;
    ClientConnection& connection_;
    bool head_request_;
    bool sent_ = false;
    bool continue_sent_ = false;
    bool body_taken_over_ = false;
    std::chrono::steady_clock::time_point head_sent_at_{};
    uint64_t handler_body_bytes_ = 0;
    std::unique_ptr<BodyBuffer> body_;
    std::unique_ptr<std::ostream> stream_;
};

}  // namespace gradatum::http
