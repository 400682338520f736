// Reads a client's request body whole, and tells a complete body from one cut short.
#pragma once

#include <string>

#include "http/server_request.hpp"

namespace gradatum::proxy {

enum class BodyRead {
    complete,
    too_large,   // past the limit; not read to the end
    incomplete,  // the client went away mid-upload, or sent bad chunked framing
    timed_out,   // the client stopped sending (server.client_idle_timeout)
};

// Content-Length bodies are read to their length; chunked bodies are decoded here (the client's
// framing is checked, not trusted: forwarding half a prompt would make the child work for
// nobody). Bytes past a chunked body go back to the connection: a pipelined request.
BodyRead read_body(http::ServerRequest& request, std::streamsize limit, std::string& body);

}  // namespace gradatum::proxy
