#include "proxy/openai_error.hpp"

#include <nlohmann/json.hpp>

namespace gradatum::proxy {

namespace {

std::string envelope(const std::string& type, const std::string& code, const std::string& message) {
    nlohmann::json body = {
        {"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
    // Messages quote what clients sent, which need not be UTF-8: replace, never throw.
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

const char* error_type_for(int status) {
    if (status == 401) return "authentication_error";
    if (status == 403) return "permission_error";
    if (status == 503) return "unavailable_error";
    return status < 500 ? "invalid_request_error" : "server_error";
}

std::string error_json(const ErrorKind& kind, const std::string& message) {
    return envelope(kind.type, kind.code, message);
}

std::string error_json(int status, const std::string& code, const std::string& message) {
    return envelope(error_type_for(status), code, message);
}

void send_error(Poco::Net::HTTPServerResponse& response, const ErrorKind& kind,
                const std::string& message, int retry_after_s) {
    std::string body = error_json(kind, message);
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(kind.status));
    response.setContentType("application/json; charset=utf-8");
    if (retry_after_s > 0) response.set("Retry-After", std::to_string(retry_after_s));
    response.setContentLength64(static_cast<Poco::Int64>(body.size()));
    response.send() << body << std::flush;
}

std::string sse_error_event(const ErrorKind& kind, const std::string& message) {
    return "data: " + error_json(kind, message) + "\n\n";
}

}  // namespace gradatum::proxy
