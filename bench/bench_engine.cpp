// Benchmarks of the engine in front of the real llama-server and the tiny model. Each number is
// a ratio or a delay measured in one run, engine vs. the same child directly, so a noisy shared
// machine moves both sides alike. Results go to docs/BENCHMARKS.md with this command:
//   build/bench/bench_engine [rounds]
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "harness.hpp"

using namespace ge_test;
using std::chrono::duration;

namespace {

double ms(Clock::duration d) {
    return duration<double, std::milli>(d).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

std::unique_ptr<Engine> start_engine(const std::string& extra) {
    auto engine = std::make_unique<Engine>(
        real_model_config("models.tiny.llama_server.ctx_size = 2048\n" + extra));
    if (!engine->wait_health(200, 60s)) throw std::runtime_error("engine not ready");
    return engine;
}

// Kill the child; time until a new child exists (respawn), until the new child's own /health
// says 200, and until the engine's /health says 200 (what clients see).
void bench_restart(int rounds) {
    auto engine = start_engine(
        "models.tiny.restart.initial_delay = 0\n"
        "models.tiny.restart.jitter = 0\n"
        "models.tiny.restart.max_retries = 1000\n");
    std::vector<double> respawn, child_ready, engine_ready, ready_gap;
    for (int i = 0; i < rounds; ++i) {
        pid_t old = only_child(*engine);
        if (old <= 1) {  // kill(0) would hit this whole process group
            std::fprintf(stderr, "bench: no single child to kill (round %d)\n", i);
            return;
        }
        auto killed = Clock::now();
        kill(old, SIGKILL);
        pid_t fresh = 0;
        while ((fresh = only_child(*engine)) == 0 || fresh == old)
            std::this_thread::sleep_for(100us);
        auto spawned = Clock::now();
        const uint16_t port = port_of_child(*engine, "tiny", fresh, 60s);
        if (port == 0) {
            std::fprintf(stderr, "bench: child %d never showed in /admin/models\n", fresh);
            return;
        }
        Clock::time_point child_ok{}, engine_ok{};
        const auto give_up = Clock::now() + 60s;
        while ((child_ok == Clock::time_point{} || engine_ok == Clock::time_point{}) &&
               Clock::now() < give_up) {
            try {
                if (child_ok == Clock::time_point{} &&
                    http(port, "GET", "/health", "", {}, 1s).status == 200)
                    child_ok = Clock::now();
            } catch (const std::exception&) {
            }
            try {
                if (engine_ok == Clock::time_point{} &&
                    http(engine->port(), "GET", "/health", "", {}, 1s).status == 200)
                    engine_ok = Clock::now();
            } catch (const std::exception&) {
            }
        }
        respawn.push_back(ms(spawned - killed));
        child_ready.push_back(ms(child_ok - killed));
        engine_ready.push_back(ms(engine_ok - killed));
        ready_gap.push_back(ms(engine_ok - child_ok));
    }
    std::printf("| restart (kill -9, backoff 0), median of %d | ms |\n|---|---|\n", rounds);
    std::printf("| child exit -> new child spawned | %.1f |\n", median(respawn));
    std::printf("| child exit -> new child's /health 200 | %.1f |\n", median(child_ready));
    std::printf("| child exit -> engine's /health 200 | %.1f |\n", median(engine_ready));
    std::printf("| child /health 200 -> engine /health 200 | %.1f |\n\n", median(ready_gap));
}

// Time to first event and to the end of a stream, through the engine and directly, alternating.
void bench_stream(int rounds) {
    auto engine = start_engine("");
    uint16_t child = child_port(*engine);
    auto auth = child_auth(only_child(*engine));  // the child's own key, for the direct runs
    const std::string body = R"({"stream":true,"max_tokens":64,"ignore_eos":true,"temperature":0,)"
                             R"("messages":[{"role":"user","content":"hello"}]})";
    std::vector<double> first_engine, first_direct, total_engine, total_direct;
    for (int i = 0; i < rounds; ++i) {
        for (bool via_engine : {true, false}) {
            auto start = Clock::now();
            auto r = via_engine
                         ? stream(engine->port(), "/v1/chat/completions", body)
                         : stream(child, "/v1/chat/completions", body, 30s, 0, nullptr, auth);
            if (r.events.empty()) throw std::runtime_error("empty stream");
            (via_engine ? first_engine : first_direct).push_back(ms(r.arrived.front() - start));
            (via_engine ? total_engine : total_direct).push_back(ms(r.arrived.back() - start));
        }
    }
    std::printf(
        "| streaming chat, 64 tokens, median of %d | engine ms | direct ms | ratio |\n"
        "|---|---|---|---|\n",
        rounds);
    std::printf("| time to first event | %.2f | %.2f | %.2f |\n", median(first_engine),
                median(first_direct), median(first_engine) / median(first_direct));
    std::printf("| time to last event | %.2f | %.2f | %.2f |\n\n", median(total_engine),
                median(total_direct), median(total_engine) / median(total_direct));
}

// Small forwarded requests per second with 8 clients, through the engine and directly.
void bench_throughput(int seconds) {
    auto engine = start_engine("");
    uint16_t child = child_port(*engine);
    auto auth = child_auth(only_child(*engine));  // the child's own key, for the direct run
    auto run = [&](uint16_t port, const std::vector<std::pair<std::string, std::string>>& headers) {
        std::atomic<int> done{0};
        auto stop_at = Clock::now() + std::chrono::seconds(seconds);
        std::vector<std::thread> clients;
        for (int c = 0; c < 8; ++c) {
            clients.emplace_back([&] {
                while (Clock::now() < stop_at) {
                    if (http(port, "GET", "/v1/models", "", headers).status == 200) ++done;
                }
            });
        }
        for (auto& t : clients) t.join();
        return done.load() / static_cast<double>(seconds);
    };
    double via_engine = run(engine->port(), {});
    double direct = run(child, auth);
    std::printf(
        "| GET /v1/models (forwarded), 8 clients, new connection each, %d s | req/s |\n|---|---|\n",
        seconds);
    std::printf("| engine | %.0f |\n| direct | %.0f |\n| ratio engine/direct | %.2f |\n\n",
                via_engine, direct, via_engine / direct);
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = argc > 1 ? std::atoi(argv[1]) : 20;
    try {
        bench_restart(rounds);
        bench_stream(rounds);
        bench_throughput(5);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_engine: %s\n", e.what());
        return 1;
    }
    return 0;
}
