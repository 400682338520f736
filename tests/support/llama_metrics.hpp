// What a llama-server, real or fake, reports on its /metrics (it must run with --metrics).
#pragma once

#include <cstdint>
#include <string>

namespace ge_test {

// The value of the metric `name` (e.g. "llamacpp:tokens_predicted_total") of the server at
// 127.0.0.1:port, or -1 if it cannot be read. `key`: the child's API key (see child_api_key), if
// it has one.
long llama_metric(uint16_t port, const std::string& name, const std::string& key = "");

// The llamacpp:requests_processing gauge, as llama_metric reads it.
long requests_processing(uint16_t port, const std::string& key = "");

}  // namespace ge_test
