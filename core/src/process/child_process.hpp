// A child process started without a shell, in its own process group, with a clean signal mask
// and the parent-death signal set; its stdout/stderr drained and relayed line by line, and its
// exit noticed at once by a dedicated waiting thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "backend_types.hpp"

namespace gradatum {

// The child could not be started: "could not start <program>: <reason>". `exec_failed` tells a
// program that cannot be run (missing, not executable, exec refused: it will not run on a retry
// either) from a resource shortage (pipes, threads, fork), which may pass.
class SpawnError : public std::runtime_error {
  public:
    SpawnError(const std::string& what, bool exec_failed)
        : std::runtime_error(what), exec_failed_(exec_failed) {}
    bool exec_failed() const { return exec_failed_; }

  private:
    bool exec_failed_;
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
    // SIGKILLs the group if it still runs, then joins its threads. A child that was never seen
    // to exit (stuck in uninterruptible sleep) is left behind: its threads are detached and keep
    // this object's state alive, so that its exit, if it ever comes, is still reaped.
    ~ChildProcess();
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
    // What the reader and waiter threads share; owned jointly with them, so that threads left
    // behind by the destructor never touch freed memory.
    struct State;
    explicit ChildProcess(std::shared_ptr<State> state) : state_(std::move(state)) {}
    static void read_output(const std::shared_ptr<State>& state);
    static void wait_for_exit(const std::shared_ptr<State>& state);

    std::shared_ptr<State> state_;
    pid_t pid_ = -1;
    std::thread reader_;
    std::thread waiter_;
};

}  // namespace gradatum
