// The engine's own metrics, for GET /metrics in the Prometheus text format: requests by model,
// route and status class, latency and time to first byte, bytes, and (read from the supervisors
// at scrape time) each model's state, restarts, exit and load time. Recording one request costs
// one short critical section: no allocation, fixed buckets.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace gradatum {
class ModelSupervisor;
}

namespace gradatum::ops {

// The routes requests are counted by (bounded: a label per path would be unbounded).
std::string_view route_label(std::string_view path);

class Metrics {
  public:
    // `models`: the configured models; model_index() adds those a reload brings.
    explicit Metrics(std::vector<std::string> models);

    struct Request {
        int model = -1;  // model_index(), or -1 (answered by the engine itself)
        std::string_view route;
        int status = 0;
        double seconds = 0;        // from the request head to the end of the answer
        double first_byte_s = -1;  // to the answer's head; < 0 if none was sent
        uint64_t bytes_in = 0;
        uint64_t bytes_out = 0;
    };
    void record(const Request& request);

    // The model's index (> 0); a name not seen yet is added.
    int model_index(std::string_view name);

    // The exposition; `models` are read for their state and counters, `extra` is appended (the
    // children's own metrics, already labelled).
    std::string render(const std::vector<ModelSupervisor*>& models, size_t busy_threads,
                       size_t dropped_log_lines) const;

  private:
    static constexpr std::array<double, 15> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                        2.5,   5,    10,    30,   60,  120,  300};
    struct Histogram {
        std::array<uint64_t, kBuckets.size() + 1> counts{};  // the last one is +Inf
        double sum = 0;
        uint64_t count = 0;
        void observe(double seconds);
    };
    struct PerModel {
        // (route, status class); the routes are route_label()'s static strings: no allocation.
        std::map<std::pair<std::string_view, int>, uint64_t> requests;
        Histogram duration;
        Histogram first_byte;
        uint64_t bytes_in = 0;
        uint64_t bytes_out = 0;
    };
    std::vector<std::string> names_;  // "" (the engine's own answers), then the models
    mutable std::mutex mutex_;
    std::vector<PerModel> per_model_;
};

// Adds model="<name>" to every sample of a Prometheus text exposition (a child's /metrics), and
// keeps its # HELP / # TYPE lines only where `seen` has not had them yet.
std::string label_exposition(const std::string& text, const std::string& model,
                             std::map<std::string, bool>& seen);

}  // namespace gradatum::ops
