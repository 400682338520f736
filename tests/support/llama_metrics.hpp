// What a llama-server, real or fake, reports on its /metrics (it must run with --metrics).
#pragma once

#include <cstdint>
#include <string>

namespace ge_test {

// The llamacpp:requests_processing gauge of the server at 127.0.0.1:port, or -1 if it cannot be
// read. `key`: the child's API key (see child_api_key), if it has one.
long requests_processing(uint16_t port, const std::string& key = "");

}  // namespace ge_test
