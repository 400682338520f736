// gradatum-engine running as a child process of the test, its output collected as its log.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clock.hpp"
#include "process/child_process.hpp"
#include "temp_dir.hpp"

namespace ge_test {

// The engine with a config written to a temp dir.
class Engine {
  public:
    // `config` is the file content; `extension` picks the format. A .properties config without
    // server.listen gets one on a free port (port()).
    // `launcher`: a program that execs the engine (e.g. {"nohup"}).
    // `plugins`: its --plugin-dir; empty: the build's plugin directory.
    explicit Engine(const std::string& config, const std::string& extension = "properties",
                    std::vector<std::string> extra_args = {},
                    std::vector<std::string> launcher = {}, const std::string& plugins = "");
    ~Engine();  // resumes the output, SIGKILLs the engine's process group if it still runs

    // Waits until GET /health answers `status`; false on timeout or if the engine exited.
    bool wait_health(int status, std::chrono::milliseconds timeout);
    // Waits until the log contains `text`.
    bool wait_log(const std::string& text, std::chrono::milliseconds timeout);
    // Waits until the log contains `text` on at least `count` lines.
    bool wait_log_count(const std::string& text, size_t count, std::chrono::milliseconds timeout);
    bool log_contains(const std::string& text) const;
    std::string log() const;
    size_t log_count(const std::string& text) const;

    // Sends `sig` to the engine alone, waits for the exit; returns the exit code (or
    // 128+signal), -1 on timeout.
    int stop(int sig = 15, std::chrono::milliseconds timeout = 30s);
    // Waits for the engine to exit on its own; returns as stop().
    int wait_exit(std::chrono::milliseconds timeout);
    // Sends `sig` to the engine's process group.
    void signal(int sig);
    // After the exit: waits until every output line is in log() (resumes the output first).
    void drain_output();

    // While paused, the reader of the engine's stdout/stderr blocks at the next line instead of
    // taking it in: the pipes fill up and the engine's own writes to them block, as they would
    // if nobody read its output. Lines that arrive while paused are not in log() until
    // resume_output().
    void pause_output();
    void resume_output();

    pid_t pid() const { return child_->pid(); }
    uint16_t port() const { return port_; }
    const std::string& config_path() const { return config_path_; }
    const TempDir& dir() const { return dir_; }

  private:
    void take_line(const std::string& line);
    size_t count_locked(const std::string& text) const;

    TempDir dir_;
    std::string config_path_;
    uint16_t port_ = 0;
    mutable std::mutex mutex_;
    std::condition_variable changed_;  // a line arrived, or the output was resumed
    bool paused_ = false;
    std::vector<std::string> lines_;
    std::unique_ptr<gradatum::ChildProcess> child_;
};

// Runs the engine with a config until it exits; for startup errors. Returns the exit code
// (128 + the signal that killed it). `plugins` as for Engine.
int run_engine_once(const std::string& config, const std::string& extension, std::string& output,
                    std::vector<std::string> extra_args = {}, const std::string& plugins = "");

// Runs the engine binary with exactly these arguments until it exits. Returns the exit code.
int run_engine_args(const std::vector<std::string>& args, std::string& output);

// The port the engine gave its (last started) child, read from the engine's log (0 if not seen).
uint16_t child_port(const Engine& engine);

// The engine's one live child process, or 0 if it has none or several.
pid_t only_child(const Engine& engine);
// The port of the child `pid` of model `model`, as GET /admin/models says once that child runs;
// 0 if it does not within `timeout`. Unlike child_port(), never a former child's.
uint16_t port_of_child(const Engine& engine, const std::string& model, pid_t pid,
                       std::chrono::milliseconds timeout);

}  // namespace ge_test
