#include "server_process.hpp"

#include <signal.h>

#include "build_paths.hpp"
#include "http_client.hpp"
#include "wait.hpp"

namespace ge_test {

ServerProcess::ServerProcess(std::vector<std::string> argv, uint16_t port,
                             std::vector<std::string> env)
    : port_(port) {
    spec_.program = argv.front();
    spec_.argv = std::move(argv);
    spec_.env = std::move(env);
}

ServerProcess::~ServerProcess() {
    if (running()) kill();
}

void ServerProcess::start() {
    child_ = gradatum::ChildProcess::spawn(
        spec_,
        [this](bool, const std::string& line) {
            std::lock_guard<std::mutex> lock(mutex_);
            lines_.push_back(line);
        },
        nullptr);
}

void ServerProcess::kill() {
    if (!child_) return;
    child_->signal_group(SIGKILL);
    child_->wait_exit(10s);
    child_.reset();  // joins the reader and the waiter
}

bool ServerProcess::running() const {
    return child_ && !child_->exit_status();
}

bool ServerProcess::wait_health(std::chrono::milliseconds timeout) const {
    return wait_until(
        [&] {
            if (!running()) return false;
            try {
                return http(port_, "GET", "/health", "", {}, 2s).status == 200;
            } catch (const std::exception&) {
                return false;
            }
        },
        timeout, 20ms);
}

pid_t ServerProcess::pid() const {
    return child_ ? child_->pid() : 0;
}

std::string ServerProcess::output() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string text;
    for (const auto& line : lines_) text += line + "\n";
    return text;
}

std::unique_ptr<ServerProcess> fake_remote(uint16_t port, const std::string& model,
                                           std::vector<std::string> args,
                                           std::vector<std::string> env) {
    std::vector<std::string> argv = {
        fake_llama_server(),  "--model",        model, "--host", "127.0.0.1", "--port",
        std::to_string(port), "--fake-load-ms", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<ServerProcess>(std::move(argv), port, std::move(env));
}

}  // namespace ge_test
