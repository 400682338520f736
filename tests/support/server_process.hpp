// A server the test runs itself, for the engine to use as a remote target: it was not started by
// the engine, so the test stops and restarts it (on the same port) to play an outage.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "clock.hpp"
#include "process/child_process.hpp"

namespace ge_test {

class ServerProcess {
  public:
    // `argv[0]` is the program; `env`: NAME=value entries added to the test's environment.
    // `port`: where it listens, for wait_health().
    ServerProcess(std::vector<std::string> argv, uint16_t port, std::vector<std::string> env = {});
    ~ServerProcess();  // SIGKILLs it if it runs
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    void start();
    // SIGKILL, and wait until it is reaped (its port refuses connections then).
    void kill();
    bool running() const;
    // Waits until GET /health answers 200; false on timeout or if it exited.
    bool wait_health(std::chrono::milliseconds timeout) const;

    pid_t pid() const;
    uint16_t port() const { return port_; }
    std::string output() const;

  private:
    gradatum::SpawnSpec spec_;
    uint16_t port_;
    std::unique_ptr<gradatum::ChildProcess> child_;
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
};

// The fake llama-server as a remote target on `port` (model file `model`, more flags in `args`).
std::unique_ptr<ServerProcess> fake_remote(uint16_t port, const std::string& model,
                                           std::vector<std::string> args = {},
                                           std::vector<std::string> env = {});

}  // namespace ge_test
