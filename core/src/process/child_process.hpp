// A child process started without a shell, in its own process group, with a clean signal mask
// and the parent-death signal set; its stdout/stderr drained and relayed line by line, and its
// exit noticed at once by a dedicated waiting thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "backend_types.hpp"

namespace gradatum {

// exec failed: "could not start <program>: <reason>".
class SpawnError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct ExitStatus {
    int code = -1;                 // exit code, or -1 when killed by a signal
    int signal = 0;                // the signal that killed it, or 0
    std::string describe() const;  // "exited with code 1" / "killed by signal 9 (SIGKILL)"
};

class ChildProcess {
  public:
    using LineSink = std::function<void(bool from_stderr, const std::string& line)>;
    using ExitCallback = std::function<void(const ExitStatus&)>;

    // PR_SET_PDEATHSIG fires when the *thread* that forked exits, so call this from a thread that
    // outlives the child (the model's supervisor thread). Throws SpawnError.
    static std::unique_ptr<ChildProcess> spawn(const SpawnSpec& spec, LineSink on_line,
                                               ExitCallback on_exit);
    ~ChildProcess();  // SIGKILLs the group if it still runs, then joins its threads
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    // Sends `sig` to the child's process group; does nothing once the child has been reaped.
    void signal_group(int sig);
    // Waits up to `timeout` for the exit; true if the child has exited.
    bool wait_exit(std::chrono::milliseconds timeout);
    std::optional<ExitStatus> exit_status() const;
    // The last lines the child wrote to stderr, oldest first.
    std::string stderr_tail() const;

  private:
    ChildProcess() = default;
    void read_output(int out_fd, int err_fd);
    void wait_for_exit();
    void keep_line(bool from_stderr, const std::string& line);

    pid_t pid_ = -1;
    LineSink on_line_;
    ExitCallback on_exit_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::optional<ExitStatus> status_;
    bool reaped_ = false;
    bool output_closed_ = false;
    std::deque<std::string> stderr_tail_;
    std::thread reader_;
    std::thread waiter_;
};

}  // namespace gradatum
