#include "proxy/body_intake.hpp"

#include <Poco/Exception.h>

#include "proxy/chunked_decoder.hpp"

namespace gradatum::proxy {

namespace {

BodyRead with_length(http::ServerRequest& request, std::streamsize limit, std::string& body) {
    if (request.getContentLength64() > limit) return BodyRead::too_large;
    body.reserve(static_cast<size_t>(request.getContentLength64()));
    char buffer[16384];
    while (request.content_length_left() > 0) {
        size_t n = request.read_body(buffer, sizeof buffer);
        if (n == 0) return BodyRead::incomplete;
        body.append(buffer, n);
    }
    request.body_complete();
    return BodyRead::complete;
}

BodyRead chunked(http::ServerRequest& request, std::streamsize limit, std::string& body) {
    ChunkedDecoder decoder;
    char buffer[16384];
    while (!decoder.done()) {
        size_t n = request.read_body(buffer, sizeof buffer);
        if (n == 0) return BodyRead::incomplete;
        size_t used = 0;
        if (!decoder.feed(buffer, n, body, &used)) return BodyRead::incomplete;
        if (static_cast<std::streamsize>(body.size()) > limit) return BodyRead::too_large;
        if (used < n) request.unread(buffer + used, n - used);
    }
    request.body_complete();
    return BodyRead::complete;
}

}  // namespace

BodyRead read_body(http::ServerRequest& request, std::streamsize limit, std::string& body) {
    try {
        if (request.getChunkedTransferEncoding()) return chunked(request, limit, body);
        if (request.hasContentLength()) return with_length(request, limit, body);
        return BodyRead::complete;  // no body (the head parser allows nothing else)
    } catch (const Poco::TimeoutException&) {
        return BodyRead::timed_out;
    } catch (const Poco::Exception&) {  // a reset mid-upload
        return BodyRead::incomplete;
    }
}

}  // namespace gradatum::proxy
