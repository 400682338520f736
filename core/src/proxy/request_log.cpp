#include "proxy/request_log.hpp"

#include <spdlog/spdlog.h>

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
    auto ms = [](double seconds) {
        return seconds < 0 ? std::string("-") : fmt::format("{:.1f}ms", seconds * 1000);
    };
    const std::string line = fmt::format(
        "access: {} {} {} {} {} in={} out={} ttfb={} time={} cut={}", request.client,
        request.model.empty() ? std::string_view("-") : request.model, request.method, request.uri,
        request.status, request.bytes_in, request.bytes_out, ms(request.first_byte_s),
        ms(request.seconds), request.cut_by.empty() ? std::string_view("-") : request.cut_by);
    if (request.model.empty()) {
        spdlog::info("{}", line);
    } else {
        logging::for_model_plain(std::string(request.model))->info("{}", line);
    }
}

}  // namespace gradatum::proxy
