#include "llama_metrics.hpp"

#include <exception>
#include <string>

#include "http_client.hpp"

namespace ge_test {

long requests_processing(uint16_t port) {
    try {
        auto metrics = http(port, "GET", "/metrics", "", {}, 5s);
        const std::string name = "\nllamacpp:requests_processing ";
        auto at = metrics.body.find(name);
        if (metrics.status != 200 || at == std::string::npos) return -1;
        return std::stol(metrics.body.substr(at + name.size()));
    } catch (const std::exception&) {
        return -1;
    }
}

}  // namespace ge_test
