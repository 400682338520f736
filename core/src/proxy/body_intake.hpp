// Reads a client's request body whole, and tells a complete body from one cut short.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>

#include <string>

namespace gradatum::proxy {

enum class BodyRead {
    complete,
    too_large,   // past the limit; not read to the end
    incomplete,  // the client went away or stalled mid-upload, or sent bad chunked framing
};

struct BodyIntake {
    BodyRead result = BodyRead::complete;
    // Bytes past a chunked body were read with it (a pipelined request): they are lost, so the
    // connection must close after this answer.
    bool must_close = false;
};

// Content-Length bodies go through Poco's fixed-length stream. Chunked bodies are decoded here:
// Poco 1.11's chunked stream reports a dropped connection as a normal end, and forwarding half a
// prompt would make the child work for nobody.
BodyIntake read_body(Poco::Net::HTTPServerRequest& request, std::streamsize limit,
                     std::string& body);

}  // namespace gradatum::proxy
