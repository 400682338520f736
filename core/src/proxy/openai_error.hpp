// Errors in the OpenAI envelope: {"error":{"message":…,"type":…,"param":null,"code":…}}.
// Every error the engine itself makes has one of the kinds below: a stable code (listed in the
// README) that clients can act on, whatever the message says. Errors from a child pass through
// unchanged.
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <string>

namespace gradatum::proxy {

struct ErrorKind {
    int status;
    const char* type;
    const char* code;
};

namespace errors {
inline constexpr ErrorKind bad_request{400, "invalid_request_error", "bad_request"};
inline constexpr ErrorKind invalid_api_key{401, "authentication_error", "invalid_api_key"};
inline constexpr ErrorKind admin_forbidden{403, "permission_error", "admin_forbidden"};
inline constexpr ErrorKind model_not_found{404, "invalid_request_error", "model_not_found"};
inline constexpr ErrorKind not_found{404, "invalid_request_error", "not_found"};
inline constexpr ErrorKind conflict{409, "invalid_request_error", "conflict"};
inline constexpr ErrorKind request_timeout{408, "invalid_request_error", "request_timeout"};
inline constexpr ErrorKind request_too_large{413, "invalid_request_error", "request_too_large"};
inline constexpr ErrorKind model_busy{429, "rate_limit_error", "model_busy"};
inline constexpr ErrorKind internal_error{500, "server_error", "internal_error"};
inline constexpr ErrorKind upstream_unreachable{502, "server_error", "upstream_unreachable"};
inline constexpr ErrorKind upstream_failed{502, "server_error", "upstream_failed"};
inline constexpr ErrorKind model_loading{503, "unavailable_error", "model_loading"};
inline constexpr ErrorKind model_restarting{503, "unavailable_error", "model_restarting"};
inline constexpr ErrorKind too_many_waiting{503, "unavailable_error", "too_many_waiting"};
inline constexpr ErrorKind model_failed{503, "unavailable_error", "model_failed"};
inline constexpr ErrorKind model_no_room{503, "unavailable_error", "model_no_room"};
inline constexpr ErrorKind remote_unreachable{503, "unavailable_error", "remote_unreachable"};
inline constexpr ErrorKind model_start_timeout{503, "unavailable_error", "model_start_timeout"};
inline constexpr ErrorKind shutting_down{503, "unavailable_error", "shutting_down"};
inline constexpr ErrorKind upstream_timeout{504, "server_error", "upstream_timeout"};
}  // namespace errors

// The type that goes with a status, for errors made below the proxy (the HTTP front).
const char* error_type_for(int status);

std::string error_json(const ErrorKind& kind, const std::string& message);
std::string error_json(int status, const std::string& code, const std::string& message);

// Sends a complete JSON error response. retry_after_s > 0 adds a Retry-After header.
void send_error(Poco::Net::HTTPServerResponse& response, const ErrorKind& kind,
                const std::string& message, int retry_after_s = 0);

// One SSE event carrying the error, for a stream that cannot end normally.
std::string sse_error_event(const ErrorKind& kind, const std::string& message);

}  // namespace gradatum::proxy
