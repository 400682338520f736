#include "llama_metrics.hpp"

#include <exception>
#include <string>

#include "http_client.hpp"

namespace ge_test {

long llama_metric(uint16_t port, const std::string& name, const std::string& key) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!key.empty()) headers.push_back({"Authorization", "Bearer " + key});
    try {
        auto metrics = http(port, "GET", "/metrics", "", headers, 5s);
        const std::string line = "\n" + name + " ";
        auto at = metrics.body.find(line);
        if (metrics.status != 200 || at == std::string::npos) return -1;
        return std::stol(metrics.body.substr(at + line.size()));
    } catch (const std::exception&) {
        return -1;
    }
}

long requests_processing(uint16_t port, const std::string& key) {
    return llama_metric(port, "llamacpp:requests_processing", key);
}

}  // namespace ge_test
