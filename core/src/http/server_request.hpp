// One request as the engine's parser read it, behind Poco's HTTPServerRequest interface. The
// body stays on the connection: body_intake reads it through read_body() (raw bytes: the
// Content-Length part, or the chunked framing as sent).
#pragma once

#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>

#include <chrono>
#include <istream>
#include <memory>

#include "http/client_connection.hpp"
#include "http/request_head.hpp"
#include "http/server_response.hpp"

namespace gradatum::http {

class ServerRequest : public Poco::Net::HTTPServerRequest {
  public:
    ServerRequest(const RequestHead& head, ClientConnection& connection, ServerResponse& response,
                  const Poco::Net::HTTPServerParams& params);
    ~ServerRequest() override;

    std::istream& stream() override;
    const Poco::Net::SocketAddress& clientAddress() const override;
    const Poco::Net::SocketAddress& serverAddress() const override;
    const Poco::Net::HTTPServerParams& serverParams() const override { return params_; }
    Poco::Net::HTTPServerResponse& response() const override { return response_; }
    bool secure() const override { return connection_.secure(); }

    ClientConnection& connection() { return connection_; }
    Poco::Net::StreamSocket& socket() { return connection_.socket(); }

    // The body's raw bytes, at most `size`; 0 at its end (Content-Length) or at the end of the
    // stream. Sends "100 Continue" first when the client waits for it. Throws as
    // ClientConnection::read_some.
    size_t read_body(char* out, size_t size);
    // Bytes read past a chunked body go back to the connection (a pipelined next request).
    void unread(const char* data, size_t size) { connection_.unread(data, size); }
    // The reader saw the whole body; until then the connection cannot carry another request.
    void body_complete() { body_complete_ = true; }
    bool body_consumed() const;
    uint64_t content_length_left() const { return length_left_; }
    // When the whole head had arrived: the start of the request's time in the engine.
    std::chrono::steady_clock::time_point received_at() const { return received_at_; }

  private:
    class BodyStream;
    ClientConnection& connection_;
    ServerResponse& response_;
    const Poco::Net::HTTPServerParams& params_;
    bool expect_continue_;
    bool has_body_;
    bool chunked_;
    uint64_t length_left_;
    bool body_complete_ = false;
    std::chrono::steady_clock::time_point received_at_ = std::chrono::steady_clock::now();
    std::unique_ptr<std::streambuf> body_buffer_;
    std::unique_ptr<std::istream> stream_;
};

}  // namespace gradatum::http
