// Errors in the OpenAI envelope: {"error":{"message":…,"type":…,"code":…}}.
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <string>

namespace gradatum::proxy {

std::string error_json(int status, const std::string& type, const std::string& message);

// Sends a complete JSON error response. retry_after_s > 0 adds a Retry-After header.
void send_error(Poco::Net::HTTPServerResponse& response, int status, const std::string& type,
                const std::string& message, int retry_after_s = 0);

// One SSE event carrying the error, for a stream that cannot end normally.
std::string sse_error_event(int status, const std::string& type, const std::string& message);

}  // namespace gradatum::proxy
