#include "openai_error.hpp"

#include <nlohmann/json.hpp>

namespace gradatum::proxy {

std::string error_json(int status, const std::string& type, const std::string& message) {
    nlohmann::json body = {{"error", {{"message", message}, {"type", type}, {"code", status}}}};
    return body.dump();
}

void send_error(Poco::Net::HTTPServerResponse& response, int status, const std::string& type,
                const std::string& message, int retry_after_s) {
    std::string body = error_json(status, type, message);
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setContentType("application/json; charset=utf-8");
    if (retry_after_s > 0) response.set("Retry-After", std::to_string(retry_after_s));
    response.setContentLength64(static_cast<Poco::Int64>(body.size()));
    response.send() << body << std::flush;
}

std::string sse_error_event(int status, const std::string& type, const std::string& message) {
    return "data: " + error_json(status, type, message) + "\n\n";
}

}  // namespace gradatum::proxy
