#include "proxy/body_intake.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/HTTPStream.h>

#include "proxy/chunked_decoder.hpp"

namespace gradatum::proxy {

namespace {

BodyIntake with_length(Poco::Net::HTTPServerRequest& request, std::streamsize limit,
                       std::string& body) {
    if (request.getContentLength64() > limit) return {BodyRead::too_large};
    std::istream& in = request.stream();
    char buffer[16384];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        body.append(buffer, static_cast<size_t>(in.gcount()));
    }
    if (in.bad() || static_cast<Poco::Int64>(body.size()) != request.getContentLength64()) {
        return {BodyRead::incomplete};
    }
    return {BodyRead::complete};
}

BodyIntake chunked(Poco::Net::HTTPServerRequest& request, std::streamsize limit,
                   std::string& body) {
    // The raw bytes after the header, from the session's buffer first, then the socket.
    auto& session = static_cast<Poco::Net::HTTPServerRequestImpl&>(request).session();
    Poco::Net::HTTPInputStream raw(session);
    ChunkedDecoder decoder;
    char buffer[16384];
    while (!decoder.done()) {
        // peek() waits for a byte; readsome() takes what has arrived (POCO-NOTES item 2): read()
        // would wait for a full buffer, past the end of the body.
        if (raw.peek() == std::char_traits<char>::eof()) return {BodyRead::incomplete};
        auto n = static_cast<size_t>(raw.readsome(buffer, sizeof buffer));
        size_t used = 0;
        if (!decoder.feed(buffer, n, body, &used)) return {BodyRead::incomplete};
        if (static_cast<std::streamsize>(body.size()) > limit) return {BodyRead::too_large};
        if (decoder.done()) return {BodyRead::complete, /*must_close=*/used < n};
    }
    return {BodyRead::complete};
}

}  // namespace

BodyIntake read_body(Poco::Net::HTTPServerRequest& request, std::streamsize limit,
                     std::string& body) {
    try {
        if (request.getChunkedTransferEncoding()) return chunked(request, limit, body);
        if (request.hasContentLength()) return with_length(request, limit, body);
        // Neither: an HTTP/1.1 request without a body (a POST read until close is not served).
        return {BodyRead::complete};
    } catch (const Poco::Exception&) {  // a receive timeout or a reset mid-upload
        return {BodyRead::incomplete};
    }
}

}  // namespace gradatum::proxy
