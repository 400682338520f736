// Side-by-side benchmark: the same child reached directly, through gradatum-engine and through
// nginx (upstream keep-alive, proxy_buffering off, HTTP/1.1 to the child). Variants alternate in
// every round and each figure is the median over rounds, with the spread (min..max), so that a
// shared, noisy machine moves all variants alike. Run by bench/compare.sh, which installs wrk and
// nginx-light and finds llama-server and the tiny model; results go to docs/BENCHMARKS.md.
//
//   bench_compare --llama-server PATH --model PATH [--rounds N] [--quick]
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "process/child_process.hpp"
#include "proxy/chunked_decoder.hpp"

using namespace ge_test;
using nlohmann::json;
using std::chrono::duration;

namespace {

// The children's API key. The engine sends it itself (and takes none from its clients); direct
// clients send it, and nginx adds it, as a deployment in front of llama-server would.
const char* const kChildKey = "bench-child-key";
const std::string kAuthorization = std::string("Bearer ") + kChildKey;

// ------------------------------------------------------------------ numbers

double ms(Clock::duration d) {
    return duration<double, std::milli>(d).count();
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    double rank = p / 100.0 * static_cast<double>(v.size() - 1);
    size_t lo = static_cast<size_t>(std::floor(rank));
    size_t hi = std::min(v.size() - 1, lo + 1);
    return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

double median(const std::vector<double>& v) {
    return percentile(v, 50);
}

// "median (min..max)"
std::string spread(const std::vector<double>& v, const char* format = "%.0f") {
    if (v.empty()) return "n/a";
    char a[64], b[64], c[64];
    std::snprintf(a, sizeof a, format, median(v));
    std::snprintf(b, sizeof b, format, *std::min_element(v.begin(), v.end()));
    std::snprintf(c, sizeof c, format, *std::max_element(v.begin(), v.end()));
    return std::string(a) + " (" + b + "–" + c + ")";
}

std::string fmt(const char* format, double value) {
    char text[64];
    std::snprintf(text, sizeof text, format, value);
    return text;
}

long long now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

// ------------------------------------------------------------------ processes

struct ProcStat {
    double cpu_s = 0;  // utime + stime
    long rss_kib = 0;
    long threads = 0;
};

ProcStat proc_stat(pid_t pid) {
    ProcStat s;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    auto paren = text.rfind(')');
    if (paren != std::string::npos) {
        std::istringstream fields(text.substr(paren + 2));
        std::string f;
        std::vector<std::string> all;
        while (fields >> f) all.push_back(f);
        // Fields after the name start at field 3 (state): utime is field 14, stime 15.
        if (all.size() > 13) {
            double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
            s.cpu_s = (std::stod(all[11]) + std::stod(all[12])) / ticks;
        }
    }
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::atol(line.c_str() + 6);
        if (line.rfind("Threads:", 0) == 0) s.threads = std::atol(line.c_str() + 8);
    }
    return s;
}

// CPU seconds of a proxy: nginx's master and its workers; the engine's own process only (its
// child, the backend, is not the proxy's cost).
double proxy_cpu(pid_t pid, bool with_children) {
    double cpu = proc_stat(pid).cpu_s;
    if (with_children) {
        for (pid_t child : children_of(pid)) cpu += proc_stat(child).cpu_s;
    }
    return cpu;
}

bool port_open(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

std::string run_command(const std::string& command) {
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return "";
    std::string out;
    char buffer[4096];
    while (fgets(buffer, sizeof buffer, pipe)) out += buffer;
    pclose(pipe);
    return out;
}

// nginx in front of a child: upstream keep-alive, no buffering, HTTP/1.1 to the child.
class Nginx {
  public:
    Nginx(const std::string& binary, uint16_t upstream_port) : port_(free_port()) {
        const std::string d = dir_.path();
        for (const char* sub : {"/body", "/proxy", "/fastcgi", "/uwsgi", "/scgi"}) {
            ::mkdir((d + sub).c_str(), 0700);
        }
        std::ofstream conf(d + "/nginx.conf");
        if (::geteuid() == 0) conf << "user root;\n";  // workers keep access to the temp dir
        conf << "worker_processes auto;\n"
             << "pid " << d << "/nginx.pid;\n"
             << "error_log " << d << "/error.log warn;\n"
             << "events { worker_connections 4096; }\n"
             << "http {\n"
             << "  access_log off;\n"
             << "  client_body_temp_path " << d << "/body;\n"
             << "  proxy_temp_path " << d << "/proxy;\n"
             << "  fastcgi_temp_path " << d << "/fastcgi;\n"
             << "  uwsgi_temp_path " << d << "/uwsgi;\n"
             << "  scgi_temp_path " << d << "/scgi;\n"
             << "  client_max_body_size 64m;\n"
             << "  client_body_buffer_size 16m;\n"
             << "  upstream child { server 127.0.0.1:" << upstream_port << "; keepalive 32; }\n"
             << "  server {\n"
             << "    listen 127.0.0.1:" << port_ << ";\n"
             << "    location / {\n"
             << "      proxy_pass http://child;\n"
             << "      proxy_http_version 1.1;\n"
             << "      proxy_set_header Connection \"\";\n"
             << "      proxy_set_header Authorization \"" << kAuthorization << "\";\n"
             << "      proxy_buffering off;\n"
             << "      proxy_read_timeout 3600s;\n"
             << "    }\n"
             << "  }\n"
             << "}\n";
        conf.close();
        gradatum::SpawnSpec spec;
        spec.program = binary;
        spec.argv = {binary, "-p", d, "-c", d + "/nginx.conf", "-g", "daemon off;"};
        process_ = gradatum::ChildProcess::spawn(
            spec,
            [](bool, const std::string& line) {
                std::fprintf(stderr, "nginx: %s\n", line.c_str());
            },
            nullptr);
        if (!wait_until([&] { return port_open(port_); }, 10s)) {
            throw std::runtime_error("nginx did not start (see " + d + "/error.log)");
        }
    }
    ~Nginx() {
        process_->signal_group(SIGQUIT);
        if (!process_->wait_exit(5s)) process_->signal_group(SIGKILL);
    }
    uint16_t port() const { return port_; }
    pid_t pid() const { return process_->pid(); }

  private:
    TempDir dir_;
    uint16_t port_;
    std::unique_ptr<gradatum::ChildProcess> process_;
};

// ------------------------------------------------------------------ the three ways in

struct Variant {
    std::string name;  // direct, engine, nginx
    uint16_t port;
    pid_t pid;  // the process whose CPU counts (0: none)
};

// The variants in the order of round `r`: rotated, so that none always goes first.
std::vector<Variant> rotated(const std::vector<Variant>& v, int r) {
    std::vector<Variant> out;
    for (size_t i = 0; i < v.size(); ++i) out.push_back(v[(i + static_cast<size_t>(r)) % v.size()]);
    return out;
}

// ------------------------------------------------------------------ wrk

struct WrkResult {
    double rps = 0;
    double p50_us = 0;
    double p99_us = 0;
};

double wrk_time_us(const std::string& text) {
    double value = std::atof(text.c_str());
    if (text.find("us") != std::string::npos) return value;
    if (text.find("ms") != std::string::npos) return value * 1000;
    if (text.find('s') != std::string::npos) return value * 1e6;
    return value;
}

WrkResult run_wrk(const std::string& wrk, uint16_t port, const std::string& path, int connections,
                  double seconds) {
    int threads = std::min(connections, 2);
    std::string out = run_command(wrk + " --latency -H 'Authorization: " + kAuthorization + "' -t" +
                                  std::to_string(threads) + " -c" + std::to_string(connections) +
                                  " -d" + fmt("%.0f", seconds) +
                                  "s http://127.0.0.1:" + std::to_string(port) + path + " 2>&1");
    WrkResult r;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::string first, second;
        words >> first >> second;
        if (first == "Requests/sec:") r.rps = std::atof(second.c_str());
        if (first == "50%") r.p50_us = wrk_time_us(second);
        if (first == "99%") r.p99_us = wrk_time_us(second);
        if (first == "Non-2xx") {
            if (std::getenv("BENCH_PAUSE_ON_ERROR"))
                std::this_thread::sleep_for(std::chrono::seconds(30));
            throw std::runtime_error("wrk got errors from port " + std::to_string(port) + path +
                                     ": " + line);
        }
    }
    if (r.rps == 0) throw std::runtime_error("wrk failed: " + out);
    return r;
}

// ------------------------------------------------------------------ an SSE client for many streams

struct StreamRun {
    std::vector<double> delay_us;        // per event: receive time - the fake's send stamp
    std::vector<double> ttfb_us;         // per stream: request sent -> first byte of the answer
    std::vector<double> first_event;     // per stream: request sent -> first event (µs)
    std::vector<double> last_event;      // per stream: request sent -> last event (µs)
    std::vector<long long> text_events;  // per stream: events with generated text
    size_t events = 0;
    int failed = 0;
};

struct Conn {
    int fd = -1;
    long long sent_ns = 0;
    long long first_byte_ns = 0;
    long long first_text_ns = 0;
    long long last_text_ns = 0;
    long long texts = 0;
    bool head_done = false;
    bool chunked = false;
    bool done = false;
    std::string head;
    std::string pending;
    gradatum::proxy::ChunkedDecoder decoder;
};

// Opens `streams` streams at once (POST `body` to `path`) and reads them all on one epoll thread,
// stamping each read. Events with "fake_sent_ns" give a delay; events with text count as tokens.
StreamRun run_streams(uint16_t port, const std::string& path, const std::string& body, int streams,
                      std::chrono::milliseconds timeout = 120s) {
    StreamRun run;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    std::vector<std::unique_ptr<Conn>> conns;
    const std::string request = "POST " + path +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                "Authorization: " +
                                kAuthorization +
                                "\r\nContent-Length: " + std::to_string(body.size()) +
                                "\r\nConnection: close\r\n\r\n" + body;
    for (int i = 0; i < streams; ++i) {
        auto c = std::make_unique<Conn>();
        c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(c->fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ++run.failed;
            ::close(c->fd);
            continue;
        }
        c->sent_ns = now_ns();
        if (::send(c->fd, request.data(), request.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(request.size())) {
            ++run.failed;
            ::close(c->fd);
            continue;
        }
        ::fcntl(c->fd, F_SETFL, O_NONBLOCK);
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.ptr = c.get();
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
        conns.push_back(std::move(c));
    }
    size_t open = conns.size();
    auto deadline = Clock::now() + timeout;
    char buffer[65536];
    epoll_event events[64];
    auto take_events = [&](Conn& c, long long at) {
        size_t end;
        while ((end = c.pending.find("\n\n")) != std::string::npos) {
            std::string event = c.pending.substr(0, end);
            c.pending.erase(0, end + 2);
            if (event.rfind("data: {", 0) != 0) continue;
            ++run.events;
            auto stamp = event.find("\"fake_sent_ns\":");
            if (stamp != std::string::npos) {
                long long sent = std::atoll(event.c_str() + stamp + 15);
                run.delay_us.push_back(static_cast<double>(at - sent) / 1000.0);
            }
            if (event.find("\"content\":\"") != std::string::npos ||
                event.find("\"text\":\"") != std::string::npos) {
                bool empty = event.find("\"content\":\"\"") != std::string::npos ||
                             event.find("\"text\":\"\"") != std::string::npos;
                if (!empty) {
                    if (c.texts == 0) c.first_text_ns = at;
                    c.last_text_ns = at;
                    ++c.texts;
                }
            }
        }
    };
    while (open > 0 && Clock::now() < deadline) {
        int n = epoll_wait(ep, events, 64, 1000);
        for (int i = 0; i < n; ++i) {
            Conn& c = *static_cast<Conn*>(events[i].data.ptr);
            while (!c.done) {
                ssize_t got = ::recv(c.fd, buffer, sizeof buffer, 0);
                long long at = now_ns();
                if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                if (got <= 0) {
                    c.done = true;
                    break;
                }
                if (c.first_byte_ns == 0) c.first_byte_ns = at;
                std::string data(buffer, static_cast<size_t>(got));
                if (!c.head_done) {
                    c.head += data;
                    auto end = c.head.find("\r\n\r\n");
                    if (end == std::string::npos) continue;
                    std::string head = c.head.substr(0, end);
                    data = c.head.substr(end + 4);
                    c.head_done = true;
                    std::string lower = head;
                    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
                    c.chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
                    if (head.find(" 200 ") == std::string::npos) {
                        ++run.failed;
                        c.done = true;
                        break;
                    }
                }
                if (c.chunked) {
                    c.decoder.feed(data.data(), data.size(), c.pending);
                } else {
                    c.pending += data;
                }
                take_events(c, at);
                if (c.chunked && c.decoder.done()) c.done = true;
            }
            if (c.done) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
                ::close(c.fd);
                --open;
                if (c.first_byte_ns) {
                    run.ttfb_us.push_back(static_cast<double>(c.first_byte_ns - c.sent_ns) / 1e3);
                }
                if (c.texts > 0) {
                    run.first_event.push_back(static_cast<double>(c.first_text_ns - c.sent_ns) /
                                              1e3);
                    run.last_event.push_back(static_cast<double>(c.last_text_ns - c.sent_ns) / 1e3);
                    run.text_events.push_back(c.texts);
                }
            }
        }
    }
    for (auto& c : conns) {
        if (!c->done) {
            ++run.failed;
            ::close(c->fd);
        }
    }
    ::close(ep);
    return run;
}

// ------------------------------------------------------------------ engines

// GE_BENCH_ENGINE_CONFIG: lines added to every engine's configuration (e.g.
// "logging.access = false" to compare without the access log, which nginx has off here).
std::string engine_extra() {
    const char* extra = std::getenv("GE_BENCH_ENGINE_CONFIG");
    return extra ? std::string(extra) + "\n" : "";
}

std::string fake_config(const TempDir& dir, const std::string& fake_args,
                        const std::string& extra = "") {
    std::string model = dir.write("model.gguf", "fake");
    return "logging.level = info\n" + engine_extra() + extra +
           fake_model_config("m", model, fake_args) +
           "models.m.llama_server.api_key = " + kChildKey + "\n";
}

struct Setup {
    std::string llama_server;
    std::string model;
    std::string nginx = "/usr/sbin/nginx";
    std::string wrk = "wrk";
    int rounds = 5;
    double seconds = 3;
    bool quick = false;
};

std::unique_ptr<Engine> start_engine(const std::string& config) {
    auto engine = std::make_unique<Engine>(config);
    if (!engine->wait_health(200, 120s))
        throw std::runtime_error("engine not ready:\n" + engine->log());
    return engine;
}

std::string real_config(const Setup& s, const std::string& extra = "") {
    return "logging.level = info\n" + engine_extra() +
           "models.tiny.backend = llama_server\n"
           "models.tiny.llama_server.binary = " +
           s.llama_server + "\nmodels.tiny.llama_server.model = " + s.model +
           "\nmodels.tiny.llama_server.ctx_size = 2048\n"
           // One generation thread: with two, llama-server's threads wait for each other at every
           // step and any other process on the 2 cores stalls them (tokens/s swung 20x).
           "models.tiny.llama_server.threads = 1\n"
           "models.tiny.llama_server.api_key = " +
           kChildKey + "\n" + extra;
}

// ------------------------------------------------------------------ 1. small requests

void bench_small(const Setup& s, const std::string& title, const std::vector<Variant>& variants,
                 const std::vector<std::string>& paths) {
    std::printf("### Small requests: %s\n\n", title.c_str());
    std::printf(
        "wrk, keep-alive connections, %.0f s per run, %d rounds; median (min–max) over rounds.\n\n",
        s.seconds, s.rounds);
    std::printf(
        "| path | conns | variant | req/s | p50 µs | p99 µs | req/s vs direct | vs nginx | proxy "
        "CPU µs/req |\n|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& path : paths) {
        for (int conns : {1, 16}) {
            std::map<std::string, std::vector<double>> rps, p50, p99;
            std::map<std::string, double> cpu, requests;
            for (int r = 0; r < s.rounds; ++r) {
                for (const auto& v : rotated(variants, r)) {
                    double before = v.pid ? proxy_cpu(v.pid, v.name == "nginx") : 0;
                    WrkResult w = run_wrk(s.wrk, v.port, path, conns, s.seconds);
                    if (v.pid) cpu[v.name] += proxy_cpu(v.pid, v.name == "nginx") - before;
                    requests[v.name] += w.rps * s.seconds;
                    rps[v.name].push_back(w.rps);
                    p50[v.name].push_back(w.p50_us);
                    p99[v.name].push_back(w.p99_us);
                }
            }
            for (const auto& v : variants) {
                double ratio = median(rps[v.name]) / median(rps["direct"]);
                double vs_nginx = median(rps[v.name]) / median(rps["nginx"]);
                std::string per_request =
                    v.pid ? fmt("%.1f", cpu[v.name] * 1e6 / requests[v.name]) : "–";
                std::printf("| %s | %d | %s | %s | %s | %s | %.2f | %.2f | %s |\n", path.c_str(),
                            conns, v.name.c_str(), spread(rps[v.name]).c_str(),
                            spread(p50[v.name]).c_str(), spread(p99[v.name]).c_str(), ratio,
                            vs_nginx, per_request.c_str());
            }
            std::fflush(stdout);
        }
    }
    std::printf("\n");
}

// ------------------------------------------------------------------ 2. SSE through the fake

void bench_sse(const Setup& s) {
    std::printf("### SSE per-event delay (fake llama-server, events stamped when sent)\n\n");
    std::printf(
        "Delay = the client's receive time − the fake's send stamp (CLOCK_MONOTONIC, same "
        "machine), read by one epoll client. %d rounds; p50/p99 per round, then the median over "
        "rounds (min–max); added = the variant's percentile − direct's in the same round. TTFB: "
        "request sent → first byte of the answer, median per round. CPU per event: the proxy's "
        "utime+stime (/proc/<pid>/stat; nginx: master + workers; the engine: its own process, not "
        "its child) over all rounds / events forwarded.\n\n",
        s.rounds);
    std::printf(
        "| streams | events/stream × interval | variant | delay p50 µs | delay p99 µs | added p50 "
        "µs | added p99 µs | TTFB µs | CPU µs/event "
        "|\n|---|---|---|---|---|---|---|---|---|\n");
    struct Load {
        int streams, events, interval_ms;
    };
    const std::vector<Load> loads =
        s.quick ? std::vector<Load>{{1, 50, 5}, {16, 50, 5}, {64, 25, 10}}
                : std::vector<Load>{{1, 200, 5}, {16, 400, 5}, {64, 200, 10}};
    const std::string body =
        R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";
    for (const Load& load : loads) {
        // One fake per load (its events and interval are flags); the engine and nginx in front.
        TempDir files;
        auto engine = start_engine(fake_config(
            files,
            "--fake-load-ms 0 --fake-stamp-events --threads-http 300 --fake-stream-events " +
                std::to_string(load.events) + " --fake-stream-interval-ms " +
                std::to_string(load.interval_ms),
            "server.threads = 300\n"));
        uint16_t child = child_port(*engine);
        Nginx nginx(s.nginx, child);
        std::vector<Variant> here = {{"direct", child, 0},
                                     {"engine", engine->port(), engine->pid()},
                                     {"nginx", nginx.port(), nginx.pid()}};
        // Per round: each variant's p50 and p99 over that round's events, and the added delay
        // against direct in the same round; reported as the median over rounds (min–max), so
        // that one stalled round does not decide a percentile.
        std::map<std::string, std::vector<double>> p50, p99, add50, add99, ttfb;
        std::map<std::string, double> cpu;
        std::map<std::string, size_t> events;
        for (int r = 0; r < s.rounds; ++r) {
            std::map<std::string, StreamRun> runs;
            for (const auto& v : rotated(here, r)) {
                double before = v.pid ? proxy_cpu(v.pid, v.name == "nginx") : 0;
                StreamRun run = run_streams(v.port, "/v1/chat/completions", body, load.streams);
                if (v.pid) cpu[v.name] += proxy_cpu(v.pid, v.name == "nginx") - before;
                if (run.failed)
                    std::fprintf(stderr, "sse %s: %d streams failed\n", v.name.c_str(), run.failed);
                events[v.name] += run.events;
                ttfb[v.name].push_back(median(run.ttfb_us));
                runs[v.name] = std::move(run);
            }
            for (const auto& v : here) {
                p50[v.name].push_back(percentile(runs[v.name].delay_us, 50));
                p99[v.name].push_back(percentile(runs[v.name].delay_us, 99));
                add50[v.name].push_back(p50[v.name].back() - p50["direct"].back());
                add99[v.name].push_back(p99[v.name].back() - p99["direct"].back());
            }
        }
        for (const auto& v : here) {
            std::string per_event =
                v.pid && events[v.name]
                    ? fmt("%.1f", cpu[v.name] * 1e6 / static_cast<double>(events[v.name]))
                    : "–";
            const bool direct = v.name == "direct";
            std::printf("| %d | %d × %d ms | %s | %s | %s | %s | %s | %s | %s |\n", load.streams,
                        load.events, load.interval_ms, v.name.c_str(), spread(p50[v.name]).c_str(),
                        spread(p99[v.name]).c_str(), direct ? "–" : spread(add50[v.name]).c_str(),
                        direct ? "–" : spread(add99[v.name]).c_str(), spread(ttfb[v.name]).c_str(),
                        per_event.c_str());
        }
        std::fflush(stdout);
    }
    std::printf("\n");
}

// ------------------------------------------------------------------ 3. real llama-server streams

void bench_real_streams(const Setup& s, const std::vector<Variant>& variants) {
    std::printf("### Real llama-server: streamed /v1/completions (tiny model, CPU)\n\n");
    std::printf(
        "One stream at a time, %d rounds alternating; llama-server with one generation thread; "
        "tokens/s = (text events − 1) / (last − first text event); TTFT = request sent → first "
        "text event. Median (min–max).\n\n",
        s.rounds * 4);
    std::printf(
        "| tokens | variant | tokens/s | vs direct | TTFT ms | TTFT added ms "
        "|\n|---|---|---|---|---|---|\n");
    for (int tokens : {64, 256}) {
        const std::string body =
            R"({"prompt":"Hello","stream":true,"temperature":0,"ignore_eos":true,"max_tokens":)" +
            std::to_string(tokens) + "}";
        std::map<std::string, std::vector<double>> tps, ttft;
        for (int r = 0; r < s.rounds * 4; ++r) {
            for (const auto& v : rotated(variants, r)) {
                StreamRun run = run_streams(v.port, "/v1/completions", body, 1);
                if (run.failed || run.text_events.empty()) {
                    std::fprintf(stderr, "real stream via %s failed\n", v.name.c_str());
                    continue;
                }
                double span_s = (run.last_event[0] - run.first_event[0]) / 1e6;
                tps[v.name].push_back(static_cast<double>(run.text_events[0] - 1) / span_s);
                ttft[v.name].push_back(run.first_event[0] / 1000.0);
            }
        }
        for (const auto& v : variants) {
            std::printf("| %d | %s | %s | %.3f | %s | %s |\n", tokens, v.name.c_str(),
                        spread(tps[v.name]).c_str(), median(tps[v.name]) / median(tps["direct"]),
                        spread(ttft[v.name], "%.2f").c_str(),
                        v.name == "direct"
                            ? "–"
                            : fmt("%.2f", median(ttft[v.name]) - median(ttft["direct"])).c_str());
        }
        std::fflush(stdout);
    }
    std::printf("\n");
}

// ------------------------------------------------------------------ 4. an 8 MiB body

void bench_body(const Setup& s) {
    std::printf("### An 8 MiB chat request (image-like base64) to the fake's /fake/sink\n\n");
    TempDir files;
    auto engine = start_engine(fake_config(files, "--fake-load-ms 0"));
    uint16_t child = child_port(*engine);
    Nginx nginx(s.nginx, child);
    std::vector<Variant> here = {
        {"direct", child, 0}, {"engine", engine->port(), 0}, {"nginx", nginx.port(), 0}};
    std::string image;
    image.reserve(8 << 20);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t x = 12345;
    while (image.size() < (8u << 20) - 200) {
        x = x * 1103515245 + 12345;
        image += alphabet[(x >> 16) & 63];
    }
    const std::string body =
        R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,)" +
        image + R"("}}]}]})";
    std::map<std::string, std::vector<double>> took;
    for (int r = 0; r < s.rounds * 2; ++r) {
        for (const auto& v : rotated(here, r)) {
            auto started = Clock::now();
            auto result =
                http(v.port, "POST", "/fake/sink", body,
                     {{"Content-Type", "application/json"}, {"Authorization", kAuthorization}});
            auto t = Clock::now() - started;
            if (result.status != 200)
                throw std::runtime_error("8 MiB body via " + v.name + ": " +
                                         std::to_string(result.status));
            took[v.name].push_back(ms(t));
        }
    }
    std::printf("%zu bytes, new connection per request, %d rounds alternating.\n\n", body.size(),
                s.rounds * 2);
    std::printf("| variant | total ms | added ms (median) |\n|---|---|---|\n");
    for (const auto& v : here) {
        std::printf("| %s | %s | %s |\n", v.name.c_str(), spread(took[v.name], "%.1f").c_str(),
                    v.name == "direct"
                        ? "–"
                        : fmt("%.1f", median(took[v.name]) - median(took["direct"])).c_str());
    }
    std::printf("\n");
}

// ------------------------------------------------------------------ 5. supervisor timings

void bench_supervisor(const Setup& s) {
    std::printf("### Supervisor (real llama-server, tiny model)\n\n");
    int rounds = s.quick ? 3 : 10;
    std::vector<double> listening, first_ready;
    for (int i = 0; i < rounds; ++i) {
        auto started = Clock::now();
        Engine engine(real_config(s));
        Clock::time_point up{}, ready{};
        while (Clock::now() - started < 60s) {
            if (up == Clock::time_point{} && port_open(engine.port())) up = Clock::now();
            if (up != Clock::time_point{}) {
                try {
                    if (http(engine.port(), "GET", "/health", "", {}, 2s).status == 200) {
                        ready = Clock::now();
                        break;
                    }
                } catch (const std::exception&) {
                }
            }
            std::this_thread::sleep_for(200us);
        }
        listening.push_back(ms(up - started));
        first_ready.push_back(ms(ready - started));
    }
    auto engine = start_engine(real_config(s,
                                           "models.tiny.restart.initial_delay = 0\n"
                                           "models.tiny.restart.jitter = 0\n"
                                           "models.tiny.restart.max_retries = 1000\n"));
    std::vector<double> respawn, child_ready, engine_ready, gap;
    for (int i = 0; i < rounds; ++i) {
        pid_t old = only_child(*engine);
        auto killed = Clock::now();
        ::kill(old, SIGKILL);
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
        gap.push_back(ms(engine_ok - child_ok));
    }
    std::printf("%d rounds; median (min–max) ms.\n\n| figure | ms |\n|---|---|\n", rounds);
    std::printf("| engine exec → listening | %s |\n", spread(listening, "%.1f").c_str());
    std::printf("| engine exec → /health 200 (model loaded) | %s |\n",
                spread(first_ready, "%.1f").c_str());
    std::printf("| child kill -9 → new child spawned (backoff 0) | %s |\n",
                spread(respawn, "%.1f").c_str());
    std::printf("| child kill -9 → new child's /health 200 | %s |\n",
                spread(child_ready, "%.1f").c_str());
    std::printf("| child kill -9 → engine /health 200 | %s |\n",
                spread(engine_ready, "%.1f").c_str());
    std::printf("| child /health 200 → engine /health 200 (ready → serving) | %s |\n\n",
                spread(gap, "%.1f").c_str());
}

// ------------------------------------------------------------------ 6. memory and threads

void bench_memory(const Setup& s) {
    std::printf("### Engine memory and threads (fake child, 256 open streams)\n\n");
    int rounds = s.quick ? 3 : 10;
    TempDir files;
    auto engine = start_engine(fake_config(
        files,
        "--fake-load-ms 0 --threads-http 300 --fake-stream-events 20 --fake-stream-interval-ms 100",
        "server.threads = 300\n"));
    for (int i = 0; i < 20; ++i) http(engine->port(), "GET", "/v1/models");
    std::this_thread::sleep_for(500ms);
    ProcStat idle = proc_stat(engine->pid());
    const std::string body =
        R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";
    std::printf(
        "| round | RSS MiB with 256 streams (peak) | threads (peak) | RSS MiB after | threads "
        "after |\n|---|---|---|---|---|\n");
    std::vector<double> after_rss;
    for (int r = 1; r <= rounds; ++r) {
        std::atomic<bool> running{true};
        ProcStat peak;
        std::thread sampler([&] {
            while (running) {
                ProcStat now = proc_stat(engine->pid());
                peak.rss_kib = std::max(peak.rss_kib, now.rss_kib);
                peak.threads = std::max(peak.threads, now.threads);
                std::this_thread::sleep_for(50ms);
            }
        });
        StreamRun run = run_streams(engine->port(), "/v1/chat/completions", body, 256);
        running = false;
        sampler.join();
        if (run.failed) std::fprintf(stderr, "memory round %d: %d streams failed\n", r, run.failed);
        std::this_thread::sleep_for(1s);
        ProcStat after = proc_stat(engine->pid());
        after_rss.push_back(after.rss_kib / 1024.0);
        std::printf("| %d | %.1f | %ld | %.1f | %ld |\n", r, peak.rss_kib / 1024.0, peak.threads,
                    after.rss_kib / 1024.0, after.threads);
        std::fflush(stdout);
    }
    std::printf(
        "\nIdle (before the first round): RSS %.1f MiB, %ld threads. RSS after round %d − after "
        "round 1: %+.1f MiB.\n\n",
        idle.rss_kib / 1024.0, idle.threads, rounds, after_rss.back() - after_rss.front());
}

}  // namespace

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    Setup s;
    std::string only;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
        if (a == "--llama-server")
            s.llama_server = next();
        else if (a == "--model")
            s.model = next();
        else if (a == "--nginx")
            s.nginx = next();
        else if (a == "--wrk")
            s.wrk = next();
        else if (a == "--rounds")
            s.rounds = std::atoi(next().c_str());
        else if (a == "--seconds")
            s.seconds = std::atof(next().c_str());
        else if (a == "--only")
            only = next();
        else if (a == "--quick") {
            s.quick = true;
            s.rounds = 2;
            s.seconds = 1;
        } else {
            std::fprintf(stderr,
                         "usage: bench_compare --llama-server PATH --model PATH [--nginx PATH] "
                         "[--wrk PATH] [--rounds N] [--seconds S] [--quick] [--only SECTION]\n");
            return 64;
        }
    }
    if (s.llama_server.empty() || s.model.empty()) {
        std::fprintf(stderr, "bench_compare: --llama-server and --model are required\n");
        return 64;
    }
    auto want = [&](const std::string& section) { return only.empty() || only == section; };
    try {
        if (want("supervisor")) bench_supervisor(s);
        if (want("real") || want("small-real")) {
            auto engine = start_engine(real_config(s));
            uint16_t child = child_port(*engine);
            Nginx nginx(s.nginx, child);
            std::vector<Variant> variants = {{"direct", child, 0},
                                             {"engine", engine->port(), engine->pid()},
                                             {"nginx", nginx.port(), nginx.pid()}};
            if (want("real")) bench_real_streams(s, variants);
            if (want("small-real")) {
                // The engine answers /health and /v1/models itself (it lists every configured
                // model); /props is a small GET it forwards to the child.
                bench_small(s,
                            "llama-server (via the engine, /health is the engine's own answer; "
                            "/props is forwarded)",
                            variants, {"/health", "/props"});
            }
        }
        if (want("small-fake")) {
            TempDir files;
            auto engine = start_engine(fake_config(files, "--fake-load-ms 0"));
            uint16_t child = child_port(*engine);
            Nginx nginx(s.nginx, child);
            bench_small(s, "the fake llama-server (/props, forwarded)",
                        {{"direct", child, 0},
                         {"engine", engine->port(), engine->pid()},
                         {"nginx", nginx.port(), nginx.pid()}},
                        {"/props"});
        }
        if (want("sse")) bench_sse(s);
        if (want("body")) bench_body(s);
        if (want("memory")) bench_memory(s);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_compare: %s\n", e.what());
        return 1;
    }
    return 0;
}
