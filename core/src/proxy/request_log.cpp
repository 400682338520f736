#include "proxy/request_log.hpp"

#include <spdlog/spdlog.h>

#include <iterator>
#include <string>

#include "logging/logging.hpp"

namespace gradatum::proxy {

void log_request(ops::Metrics& metrics, bool access_log, const AnsweredRequest& request) {
    ops::Metrics::Request r;
    r.model = request.model_index;
    r.route = ops::route_label(request.uri.substr(0, request.uri.find('?')));
    r.status = request.status;
    r.seconds = request.seconds;
    r.first_byte_s = request.first_byte_s;
    r.bytes_in = request.bytes_in;
    r.bytes_out = request.bytes_out;
    metrics.record(r);
    if (!access_log) return;
    // Formatted once, into a buffer on the stack, and handed to the logger as it is: this runs
    // for every request, on the event loop for the fast lane's.
    fmt::memory_buffer line;
    auto out = std::back_inserter(line);
    auto ms = [&](std::string_view name, double seconds) {
        if (seconds < 0) {
            fmt::format_to(out, " {}=-", name);
        } else {
            fmt::format_to(out, " {}={:.1f}ms", name, seconds * 1000);
        }
    };
    fmt::format_to(out, "access: {} {} {} {} {} in={} out={}", request.client,
                   request.model.empty() ? std::string_view("-") : request.model, request.method,
                   request.uri, request.status, request.bytes_in, request.bytes_out);
    ms("ttfb", request.first_byte_s);
    ms("time", request.seconds);
    fmt::format_to(out, " cut={}", request.cut_by.empty() ? std::string_view("-") : request.cut_by);
    const spdlog::string_view_t text(line.data(), line.size());
    if (request.model.empty()) {
        spdlog::default_logger_raw()->log(spdlog::level::info, text);
    } else {
        logging::for_model_plain(std::string(request.model))->log(spdlog::level::info, text);
    }
}

}  // namespace gradatum::proxy
