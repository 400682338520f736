#include "proxy/sse_answer.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "http/server_request.hpp"
#include "http/server_response.hpp"
#include "proxy/openai_error.hpp"

namespace gradatum::proxy {

namespace {

constexpr size_t kQuoted = 200;  // of a body that is not JSON, this much goes in the message

}  // namespace

std::string sse_event_for_answer(const std::string& model, int status, std::string_view reason,
                                 std::string_view content_type, std::string_view body) {
    auto parsed = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
    if (parsed.is_object() && parsed.contains("error")) {
        // One line: an event's data cannot hold a bare newline.
        return "data: " + parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
               "\n\n";
    }
    std::string message = "the backend of model '" + model + "' answered " +
                          std::to_string(status) + " " + std::string(reason);
    if (status >= 200 && status < 300) {
        message +=
            " with " +
            (content_type.empty() ? std::string("no Content-Type") : std::string(content_type)) +
            " instead of an event stream";
    } else if (!body.empty()) {
        message += ": " + std::string(body.substr(0, kQuoted));
        if (body.size() > kQuoted) message += "...";
    }
    return sse_error_event(errors::upstream_failed, message);
}

std::string final_event_bytes(const std::string& event, bool chunked) {
    if (!chunked) return event;
    char size[24];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", event.size());
    return std::string(size, static_cast<size_t>(n)) + event + "\r\n0\r\n\r\n";
}

bool end_event_stream(Poco::Net::HTTPServerRequest& request,
                      Poco::Net::HTTPServerResponse& response, const std::string& event) {
    auto& out = static_cast<http::ServerResponse&>(response);
    out.take_over_body();
    const std::string bytes = final_event_bytes(event, response.getChunkedTransferEncoding());
    if (!static_cast<http::ServerRequest&>(request).connection().send_all(bytes)) {
        response.setKeepAlive(false);
        return false;
    }
    out.add_body_bytes(bytes.size());
    return true;
}

}  // namespace gradatum::proxy
