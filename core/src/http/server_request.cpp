#include "http/server_request.hpp"

#include <algorithm>

namespace gradatum::http {

// stream() for handlers that want an istream: the raw body through read_body().
class ServerRequest::BodyStream : public std::streambuf {
  public:
    explicit BodyStream(ServerRequest& request) : request_(request) {}

  protected:
    int underflow() override {
        size_t n = request_.read_body(buffer_, sizeof buffer_);
        if (n == 0) return traits_type::eof();
        setg(buffer_, buffer_, buffer_ + n);
        return traits_type::to_int_type(buffer_[0]);
    }

  private:
    ServerRequest& request_;
    char buffer_[16384];
};

ServerRequest::ServerRequest(const RequestHead& head, ClientConnection& connection,
                             ServerResponse& response, const Poco::Net::HTTPServerParams& params)
    : connection_(connection),
      response_(response),
      params_(params),
      expect_continue_(head.expect_continue),
      has_body_(head.chunked || head.content_length.value_or(0) > 0),
      chunked_(head.chunked),
      length_left_(head.content_length.value_or(0)) {
    setMethod(head.method);
    setURI(head.target);
    setVersion(head.minor_version == 0 ? HTTP_1_0 : HTTP_1_1);
    for (const auto& [name, value] : head.fields) add(name, value);
}

ServerRequest::~ServerRequest() = default;

std::istream& ServerRequest::stream() {
    if (!stream_) {
        body_buffer_ = std::make_unique<BodyStream>(*this);
        stream_ = std::make_unique<std::istream>(body_buffer_.get());
    }
    return *stream_;
}

const Poco::Net::SocketAddress& ServerRequest::clientAddress() const {
    return connection_.client_address();
}

const Poco::Net::SocketAddress& ServerRequest::serverAddress() const {
    return connection_.server_address();
}

size_t ServerRequest::read_body(char* out, size_t size) {
    if (!has_body_) return 0;
    if (expect_continue_) {
        expect_continue_ = false;
        response_.sendContinue();
    }
    if (chunked_) return connection_.read_some(out, size);
    if (length_left_ == 0) return 0;
    size_t n =
        connection_.read_some(out, static_cast<size_t>(std::min<uint64_t>(size, length_left_)));
    length_left_ -= n;
    return n;
}

bool ServerRequest::body_consumed() const {
    return !has_body_ || body_complete_ || (!chunked_ && length_left_ == 0);
}

}  // namespace gradatum::http
