// Test support: run the real engine binary as a child, talk HTTP to it, and look at processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "process/child_process.hpp"

namespace ge_test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A fresh directory, removed with its contents when the object dies.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    const std::string& path() const { return path_; }
    std::string write(const std::string& name, const std::string& content) const;

  private:
    std::string path_;
};

uint16_t free_port();

struct HttpResult {
    int status = 0;
    std::string reason;
    std::multimap<std::string, std::string> headers;  // names lower-cased
    std::string body;
    std::string header(const std::string& name) const;
    size_t count(const std::string& name) const { return headers.count(name); }
};

// One request over a new connection. Throws on connection errors.
HttpResult http(uint16_t port, const std::string& method, const std::string& target,
                const std::string& body = "",
                const std::vector<std::pair<std::string, std::string>>& headers = {},
                std::chrono::milliseconds timeout = 30s);

// A streamed response, split into SSE events with the time each one arrived.
struct StreamResult {
    int status = 0;
    std::multimap<std::string, std::string> headers;
    std::vector<std::string> events;  // "data: ..." without the blank line
    std::vector<Clock::time_point> arrived;
    bool complete = false;  // the chunked body ended properly
    std::string header(const std::string& name) const;
};

// Sends a POST and reads SSE events until the body ends, the connection drops, or `stop_after`
// events (then closes the connection: a client that goes away).
// `on_event` runs after each event arrives (e.g. to kill the child mid-stream).
StreamResult stream(uint16_t port, const std::string& target, const std::string& body,
                    std::chrono::milliseconds timeout = 30s, size_t stop_after = 0,
                    const std::function<void(size_t count)>& on_event = nullptr);

std::string base64_decode(const std::string& text);

// gradatum-engine running as a child process with a config written to a temp dir.
class Engine {
  public:
    // `config` is the file content; `extension` picks the format.
    // `launcher`: a program that execs the engine (e.g. {"nohup"}).
    explicit Engine(const std::string& config, const std::string& extension = "properties",
                    std::vector<std::string> extra_args = {},
                    std::vector<std::string> launcher = {});
    ~Engine();

    // Waits until GET /health answers `status`; false on timeout or if the engine exited.
    bool wait_health(int status, std::chrono::milliseconds timeout);
    // Waits until the log contains `text`.
    bool wait_log(const std::string& text, std::chrono::milliseconds timeout);
    bool log_contains(const std::string& text) const;
    std::string log() const;
    size_t log_count(const std::string& text) const;

    // Sends `sig`, waits for the exit; returns the exit code (or 128+signal), -1 on timeout.
    int stop(int sig = 15, std::chrono::milliseconds timeout = 30s);
    // Waits for the engine to exit on its own; returns as stop().
    int wait_exit(std::chrono::milliseconds timeout);
    void signal(int sig);
    // After the exit: waits until every output line is in log().
    void drain_output();

    pid_t pid() const { return child_->pid(); }
    uint16_t port() const { return port_; }
    const std::string& config_path() const { return config_path_; }
    const TempDir& dir() const { return dir_; }

  private:
    TempDir dir_;
    std::string config_path_;
    uint16_t port_ = 0;
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
    std::unique_ptr<gradatum::ChildProcess> child_;
};

// Runs the engine with a config until it exits; for startup errors. Returns the exit code.
int run_engine_once(const std::string& config, const std::string& extension, std::string& output,
                    std::vector<std::string> extra_args = {});

// Runs the engine binary with exactly these arguments until it exits. Returns the exit code.
int run_engine_args(const std::vector<std::string>& args, std::string& output);

// Direct children of `pid` (from /proc).
std::vector<pid_t> children_of(pid_t pid);
// True if `pid` exists and is not a zombie.
bool process_alive(pid_t pid);
// Waits until none of `pids` is alive.
bool wait_all_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds timeout);

// The port the engine gave model `name`'s child, read from the engine's log (0 if not seen).
uint16_t child_port(const Engine& engine);

// The real llama-server and the tiny model, found the way scripts/ find them. When either is
// missing: fails the test under CI (CI=true), else exits 77, which ctest reports as skipped.
struct RealParts {
    std::string llama_server;
    std::string model;
};
const RealParts& real_parts();

// Paths from the build.
std::string engine_binary();
std::string plugin_dir();
std::string fake_llama_server();
std::string source_dir();

// The config lines for one model run by the fake llama-server.
std::string fake_model_config(const std::string& name, const std::string& model_path,
                              const std::string& fake_args);

// The config lines for model "tiny" run by the real llama-server (see real_parts()).
std::string real_model_config(const std::string& extra = "");

// The engine's one live child process, or 0 if it has none or several.
pid_t only_child(const Engine& engine);

// Chat requests for model "m", plain and streamed.
inline const std::string kChat = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
inline const std::string kStreamChat =
    R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";

// An engine with one fake-backed model named "m" (the fake's flags in `fake_args`).
struct FakeEngine {
    TempDir files;
    std::string model;
    std::unique_ptr<Engine> engine;

    explicit FakeEngine(const std::string& fake_args, const std::string& extra_config = "");
    uint16_t port() const { return engine->port(); }
    pid_t child() const { return only_child(*engine); }
};

}  // namespace ge_test
