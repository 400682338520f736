// Every answered request's trace: its line in the metrics and, with logging.access, one access
// line (who, what, how it ended, how long it took). The same for the worker's and the fast
// lane's requests.
#pragma once

#include <cstdint>
#include <string_view>

#include "ops/metrics.hpp"

namespace gradatum::proxy {

struct AnsweredRequest {
    std::string_view client;  // "host:port"
    std::string_view model;   // empty: the engine answered itself
    int model_index = -1;     // Metrics::model_index(), or -1
    std::string_view method;
    std::string_view uri;
    int status = 0;            // 0: no answer was sent
    double seconds = 0;        // from the request head to the end of the answer
    double first_byte_s = -1;  // to the answer's head; < 0 if none was sent
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    std::string_view cut_by;  // see ForwardResult::cut_by
};

void log_request(ops::Metrics& metrics, bool access_log, const AnsweredRequest& request);

}  // namespace gradatum::proxy
