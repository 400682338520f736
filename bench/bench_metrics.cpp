// The cost of accounting one request in the metrics (ops::Metrics::record), alone and with
// threads contending, against the empty loop: what every forwarded request pays.
//   build/bench/bench_metrics [records per thread, default 2000000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "ops/metrics.hpp"

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 2'000'000;
    gradatum::ops::Metrics metrics({"a", "b"});
    for (int threads : {1, 2, 4}) {
        auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&, t] {
                gradatum::ops::Metrics::Request r;
                r.model = t % 2;
                r.route = gradatum::ops::route_label("/v1/chat/completions");
                r.status = 200;
                r.bytes_in = 100;
                r.bytes_out = 1000;
                for (long i = 0; i < n; ++i) {
                    r.seconds = 0.001 * static_cast<double>(i % 1000);
                    r.first_byte_s = r.seconds / 2;
                    metrics.record(r);
                }
            });
        }
        for (auto& w : workers) w.join();
        double ns =
            std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
                .count() /
            static_cast<double>(n * threads);
        std::printf("record(): %d thread(s): %.1f ns per request (wall time / records)\n", threads,
                    ns);
    }
    auto start = std::chrono::steady_clock::now();
    std::string text = metrics.render({}, 0, 0);
    std::printf(
        "render() with 2 models: %.1f us, %zu bytes\n",
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count(),
        text.size());
}
