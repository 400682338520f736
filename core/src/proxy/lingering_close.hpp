// Answering a client that is still sending a body the engine will not read.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <string>

#include "proxy/openai_error.hpp"

namespace gradatum::proxy {

// Sends an OpenAI error and closes the connection without reading the rest of the request. The
// close lingers (stop writing, then read and drop for a short while): a plain close with unread
// bytes would make the kernel send a reset, and the client would lose the answer.
void refuse(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
            const ErrorKind& kind, const std::string& message, int retry_after_s = 0);

}  // namespace gradatum::proxy
