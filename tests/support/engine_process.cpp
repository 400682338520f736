#include "engine_process.hpp"

#include <signal.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "build_paths.hpp"
#include "free_port.hpp"
#include "http_client.hpp"
#include "proc_inspect.hpp"

namespace ge_test {

Engine::Engine(const std::string& config, const std::string& extension,
               std::vector<std::string> extra_args, std::vector<std::string> launcher,
               const std::string& plugins) {
    port_ = free_port();
    std::string text = config;
    // The harness owns the listen address so that tests can run side by side.
    if (extension == "properties" && text.find("server.listen") == std::string::npos)
        text = "server.listen = 127.0.0.1:" + std::to_string(port_) + "\n" + text;
    config_path_ = dir_.write("engine." + extension, text);
    gradatum::SpawnSpec spec;
    spec.program = engine_binary();
    spec.argv = {engine_binary(), "--config", config_path_, "--plugin-dir",
                 plugins.empty() ? plugin_dir() : plugins};
    spec.argv.insert(spec.argv.end(), extra_args.begin(), extra_args.end());
    if (!launcher.empty()) {
        spec.program = launcher.front();
        spec.argv.insert(spec.argv.begin(), launcher.begin(), launcher.end());
    }
    child_ = gradatum::ChildProcess::spawn(
        spec, [this](bool, const std::string& line) { take_line(line); }, nullptr);
}

Engine::~Engine() {
    // A paused reader would never return, and ~ChildProcess joins it.
    resume_output();
    if (child_ && !child_->exit_status()) {
        child_->signal_group(SIGKILL);
        child_->wait_exit(5s);
    }
    // For debugging a failure: GE_TEST_KEEP_LOGS=DIR keeps every engine's log there.
    if (const char* keep = std::getenv("GE_TEST_KEEP_LOGS")) {
        std::ofstream(std::string(keep) + "/engine-" + std::to_string(port_) + ".log") << log();
    }
}

void Engine::take_line(const std::string& line) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !paused_; });
    lines_.push_back(line);
    changed_.notify_all();
}

void Engine::pause_output() {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = true;
}

void Engine::resume_output() {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = false;
    changed_.notify_all();
}

bool Engine::wait_health(int status, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (child_->exit_status()) return false;
        try {
            if (http(port_, "GET", "/health", "", {}, 2s).status == status) return true;
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

bool Engine::wait_log(const std::string& text, std::chrono::milliseconds timeout) {
    return wait_log_count(text, 1, timeout);
}

bool Engine::wait_log_count(const std::string& text, size_t count,
                            std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return count_locked(text) >= count; });
}

bool Engine::log_contains(const std::string& text) const {
    return log_count(text) > 0;
}

size_t Engine::log_count(const std::string& text) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_locked(text);
}

size_t Engine::count_locked(const std::string& text) const {
    size_t n = 0;
    for (const auto& line : lines_) n += line.find(text) != std::string::npos;
    return n;
}

std::string Engine::log() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    for (const auto& line : lines_) out += line + "\n";
    return out;
}

void Engine::drain_output() {
    resume_output();
    child_.reset();
}

void Engine::signal(int sig) {
    child_->signal_group(sig);
}

int Engine::wait_exit(std::chrono::milliseconds timeout) {
    if (!child_->wait_exit(timeout)) return -1;
    auto status = *child_->exit_status();
    return status.signal ? 128 + status.signal : status.code;
}

int Engine::stop(int sig, std::chrono::milliseconds timeout) {
    // Only the engine: its children are its own business (that is what is being tested).
    // Once the engine has been reaped its pid may be another process's: send nothing then.
    pid_t engine = child_->pid();
    if (engine <= 1)
        throw std::logic_error("Engine::stop: no engine pid (" + std::to_string(engine) + ")");
    if (!child_->exit_status()) kill(engine, sig);
    return wait_exit(timeout);
}

int run_engine_once(const std::string& config, const std::string& extension, std::string& output,
                    std::vector<std::string> extra_args, const std::string& plugins) {
    int code;
    {
        Engine engine(config, extension, std::move(extra_args), {}, plugins);
        code = engine.wait_exit(30s);
        engine.drain_output();
        output = engine.log();
    }
    return code;
}

int run_engine_args(const std::vector<std::string>& args, std::string& output) {
    std::mutex mutex;
    gradatum::SpawnSpec spec;
    spec.program = engine_binary();
    spec.argv = {engine_binary()};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    auto child = gradatum::ChildProcess::spawn(
        spec,
        [&](bool, const std::string& line) {
            std::lock_guard<std::mutex> lock(mutex);
            output += line + "\n";
        },
        nullptr);
    if (!child->wait_exit(30s)) return -1;
    auto status = *child->exit_status();
    child.reset();  // joins the reader: all output is in
    return status.signal ? 128 + status.signal : status.code;
}

uint16_t child_port(const Engine& engine) {
    std::string log = engine.log();
    auto at = log.rfind(" on port ");
    if (at == std::string::npos) return 0;
    return static_cast<uint16_t>(std::atoi(log.c_str() + at + 9));
}

pid_t only_child(const Engine& engine) {
    std::vector<pid_t> alive;
    for (pid_t pid : children_of(engine.pid())) {
        if (process_alive(pid)) alive.push_back(pid);  // not a zombie the engine has yet to reap
    }
    return alive.size() == 1 ? alive.front() : 0;
}

uint16_t port_of_child(const Engine& engine, const std::string& model, pid_t pid,
                       std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        try {
            auto answer = http(engine.port(), "GET", "/admin/models", "", {}, 1000ms);
            auto list = nlohmann::json::parse(answer.body, nullptr, false);
            if (list.is_object() && list["data"].is_array()) {
                for (const auto& m : list["data"]) {
                    if (m.value("id", "") == model && m.value("pid", 0) == pid &&
                        m.value("port", 0) != 0)
                        return static_cast<uint16_t>(m.value("port", 0));
                }
            }
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return 0;
}

}  // namespace ge_test
