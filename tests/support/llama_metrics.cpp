#include "llama_metrics.hpp"

#include <exception>
#include <string>

#include "http_client.hpp"

namespace ge_test {

long requests_processing(uint16_t port, const std::string& key) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!key.empty()) headers.push_back({"Authorization", "Bearer " + key});
    try {
        auto metrics = http(port, "GET", "/metrics", "", headers, 5s);
        const std::string name = "\nllamacpp:requests_processing ";
        auto at = metrics.body.find(name);
        if (metrics.status != 200 || at == std::string::npos) return -1;
        return std::stol(metrics.body.substr(at + name.size()));
    } catch (const std::exception&) {
        return -1;
    }
}

}  // namespace ge_test
