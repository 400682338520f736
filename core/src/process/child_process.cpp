#include "process/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <system_error>
#include <vector>

#include "process/program_lookup.hpp"

extern char** environ;

namespace gradatum {

namespace {

constexpr size_t kStderrTailLines = 20;
// After the exit, give the reader this long to drain what the child wrote last.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(300);
// How long the destructor waits for a SIGKILLed child before leaving it behind.
constexpr auto kLeaveBehindAfter = std::chrono::milliseconds(2000);

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// The child's environment: the engine's, with the spec's NAME=value entries replacing or adding.
std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
    std::map<std::string, std::string> by_name;
    std::vector<std::string> order;
    auto put = [&](const std::string& entry) {
        std::string name = entry.substr(0, entry.find('='));
        if (!by_name.count(name)) order.push_back(name);
        by_name[name] = entry;
    };
    for (char** e = environ; e && *e; ++e) put(*e);
    for (const auto& entry : extra) put(entry);
    std::vector<std::string> out;
    for (const auto& name : order) out.push_back(by_name[name]);
    return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// Runs in the forked child: only async-signal-safe calls from here to execve.
[[noreturn]] void exec_child(pid_t parent, const char* path, char* const argv[], char* const envp[],
                             const char* workdir, int out_fd, int err_fd, int report_fd) {
    setpgid(0, 0);
    // Dies with the engine even on SIGKILL; if the parent is already gone, stop here.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    // Poco threads block SIGTERM/SIGQUIT/SIGPIPE and the engine ignores SIGPIPE; both would be
    // inherited across exec (POCO-NOTES item 9).
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);

    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    // Keep only 0-2 and the exec report pipe (moved to 3): the engine's sockets must not leak.
    dup2(report_fd, 3);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    if (syscall(SYS_close_range, 4U, ~0U, 0U) != 0) {
        struct rlimit limit {};
        int max_fd =
            getrlimit(RLIMIT_NOFILE, &limit) == 0 ? static_cast<int>(limit.rlim_cur) : 1024;
        for (int fd = 4; fd < max_fd; ++fd) close(fd);
    }
    if (workdir && *workdir && chdir(workdir) != 0) {
        int error = errno;
        (void)!write(3, &error, sizeof error);
        _exit(127);
    }
    execve(path, argv, envp);
    int error = errno;
    (void)!write(3, &error, sizeof error);
    _exit(127);
}

}  // namespace

std::string ExitStatus::describe() const {
    if (signal != 0)
        return "killed by signal " + std::to_string(signal) + " (" + signal_name(signal) + ")";
    return "exited with code " + std::to_string(code);
}

// Shared by the ChildProcess and its two threads (see child_process.hpp).
struct ChildProcess::State {
    LineSink on_line;
    ExitCallback on_exit;
    // Held while a callback runs; `detached` set under it means the owner is gone: call nothing.
    std::mutex callback_mutex;
    bool detached = false;

    std::mutex mutex;
    std::condition_variable changed;
    // The threads start before the fork (so that a thread limit cannot leave a child without its
    // waiter) and wait here until the child runs (`launched`) or the launch failed (`cancelled`).
    bool launched = false;
    bool cancelled = false;
    pid_t pid = -1;
    int out_fd = -1;
    int err_fd = -1;
    std::optional<ExitStatus> status;
    bool reaped = false;
    bool output_closed = false;
    std::deque<std::string> stderr_tail;

    // Waits for the launch; false if it was cancelled.
    bool wait_launched() {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return launched || cancelled; });
        return launched;
    }

    void keep_line(bool from_stderr, const std::string& line) {
        if (from_stderr) {
            std::lock_guard<std::mutex> lock(mutex);
            stderr_tail.push_back(line);
            if (stderr_tail.size() > kStderrTailLines) stderr_tail.pop_front();
        }
        std::lock_guard<std::mutex> lock(callback_mutex);
        if (!detached && on_line) on_line(from_stderr, line);
    }
};

std::unique_ptr<ChildProcess> ChildProcess::spawn(const SpawnSpec& spec, LineSink on_line,
                                                  ExitCallback on_exit) {
    auto path = find_program(spec.program);
    if (!path) {
        throw SpawnError("could not start " + spec.program + ": no executable file by that name" +
                             (spec.program.find('/') == std::string::npos ? " on PATH" : ""),
                         /*exec_failed=*/true);
    }
    // Everything the child needs is prepared before fork: no allocation after it.
    std::vector<std::string> args =
        spec.argv.empty() ? std::vector<std::string>{spec.program} : spec.argv;
    std::vector<std::string> env = merged_environment(spec.env);
    auto argv = pointers(args);
    auto envp = pointers(env);

    auto state = std::make_shared<State>();
    state->on_line = std::move(on_line);
    state->on_exit = std::move(on_exit);
    std::unique_ptr<ChildProcess> child(new ChildProcess(state));
    // On any failure below: the threads give up waiting, the destructor joins them.
    auto cancel = [&] {
        std::lock_guard<std::mutex> lock(state->mutex);
        state->cancelled = true;
        state->changed.notify_all();
    };
    try {
        child->waiter_ = std::thread([state] { wait_for_exit(state); });
        child->reader_ = std::thread([state] { read_output(state); });
    } catch (const std::system_error& e) {
        cancel();
        throw SpawnError("could not start " + spec.program +
                             ": cannot create a thread: " + e.code().message() +
                             " (a limit on processes or threads, e.g. TasksMax or pids.max?)",
                         /*exec_failed=*/false);
    }

    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, report_pipe[2] = {-1, -1};
    auto close_all = [&] {
        for (int fd :
             {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], report_pipe[0], report_pipe[1]}) {
            if (fd >= 0) close(fd);
        }
    };
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
        pipe2(report_pipe, O_CLOEXEC) != 0) {
        int error = errno;
        close_all();
        cancel();
        throw SpawnError("could not start " + spec.program + ": pipe: " + std::strerror(error),
                         false);
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int error = errno;
        close_all();
        cancel();
        throw SpawnError("could not start " + spec.program + ": fork: " + std::strerror(error),
                         false);
    }
    if (pid == 0) {
        exec_child(parent, path->c_str(), argv.data(), envp.data(), spec.workdir.c_str(),
                   out_pipe[1], err_pipe[1], report_pipe[1]);
    }
    setpgid(pid, pid);  // also set here so a signal sent right away reaches the group
    close(out_pipe[1]);
    close(err_pipe[1]);
    close(report_pipe[1]);

    int exec_errno = 0;
    ssize_t got;
    do {
        got = read(report_pipe[0], &exec_errno, sizeof exec_errno);
    } while (got < 0 && errno == EINTR);
    close(report_pipe[0]);
    if (got > 0) {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        close(out_pipe[0]);
        close(err_pipe[0]);
        cancel();
        throw SpawnError("could not start " + *path + ": " + std::strerror(exec_errno), true);
    }
    {
        std::lock_guard<std::mutex> lock(state->mutex);
        state->pid = pid;
        state->out_fd = out_pipe[0];
        state->err_fd = err_pipe[0];
        state->launched = true;
        state->changed.notify_all();
    }
    child->pid_ = pid;
    return child;
}

ChildProcess::~ChildProcess() {
    signal_group(SIGKILL);
    if (pid_ > 0 && !wait_exit(kLeaveBehindAfter)) {
        // Stuck (uninterruptible sleep, or traced): waiting longer could hang the engine's stop.
        spdlog::error("child pid {} did not exit {} ms after SIGKILL; leaving it behind", pid_,
                      kLeaveBehindAfter.count());
        {
            std::lock_guard<std::mutex> lock(state_->callback_mutex);
            state_->detached = true;
        }
        if (waiter_.joinable()) waiter_.detach();
        if (reader_.joinable()) reader_.detach();
        return;
    }
    if (waiter_.joinable()) waiter_.join();
    if (reader_.joinable()) reader_.join();
}

void ChildProcess::signal_group(int sig) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    // Never launched (pid -1: kill(1) would hit init), or reaped (the pid may be another's now).
    if (pid_ <= 0 || state_->reaped) return;
    if (kill(-pid_, sig) != 0) kill(pid_, sig);
}

bool ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(state_->mutex);
    return state_->changed.wait_for(lock, timeout, [&] { return state_->status.has_value(); });
}

std::optional<ExitStatus> ChildProcess::exit_status() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->status;
}

std::string ChildProcess::stderr_tail() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    std::string out;
    for (const auto& line : state_->stderr_tail) out += line + "\n";
    return out;
}

void ChildProcess::read_output(const std::shared_ptr<State>& state) {
    if (!state->wait_launched()) return;
    // One poll loop for both pipes: the child never blocks on a full pipe (POCO-NOTES item 10).
    struct Stream {
        int fd;
        bool is_stderr;
        std::string partial;
    } streams[2] = {{state->out_fd, false, {}}, {state->err_fd, true, {}}};
    char buffer[4096];
    int open_count = 2;
    while (open_count > 0) {
        pollfd fds[2];
        for (int i = 0; i < 2; ++i) fds[i] = {streams[i].fd, POLLIN, 0};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            Stream& s = streams[i];
            if (s.fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(s.fd, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                if (!s.partial.empty()) state->keep_line(s.is_stderr, s.partial);
                close(s.fd);
                s.fd = -1;
                --open_count;
                continue;
            }
            s.partial.append(buffer, static_cast<size_t>(n));
            size_t start = 0, newline;
            while ((newline = s.partial.find('\n', start)) != std::string::npos) {
                std::string line = s.partial.substr(start, newline - start);
                if (!line.empty() && line.back() == '\r') line.pop_back();
                state->keep_line(s.is_stderr, line);
                start = newline + 1;
            }
            s.partial.erase(0, start);
        }
    }
    for (auto& s : streams) {
        if (s.fd >= 0) close(s.fd);
    }
    std::lock_guard<std::mutex> lock(state->mutex);
    state->output_closed = true;
    state->changed.notify_all();
}

void ChildProcess::wait_for_exit(const std::shared_ptr<State>& state) {
    if (!state->wait_launched()) return;
    const pid_t pid = state->pid;
    // Wait without reaping first: until the reap below, the pid is still ours, so signal_group()
    // can never hit a recycled pid.
    siginfo_t info{};
    while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
    {
        std::lock_guard<std::mutex> lock(state->mutex);
        state->reaped = true;
    }
    int raw = 0;
    pid_t got;
    do {
        got = waitpid(pid, &raw, 0);
    } while (got < 0 && errno == EINTR);
    ExitStatus status;
    if (got == pid && WIFSIGNALED(raw)) {
        status.signal = WTERMSIG(raw);
    } else if (got == pid) {
        status.code = WEXITSTATUS(raw);
    }
    {
        // Let the reader take in the last lines, so stderr_tail() explains the exit; a grandchild
        // holding the pipe open must not delay the exit notice for long.
        std::unique_lock<std::mutex> lock(state->mutex);
        state->changed.wait_for(lock, kDrainAfterExit, [&] { return state->output_closed; });
        state->status = status;
        state->changed.notify_all();
    }
    std::lock_guard<std::mutex> lock(state->callback_mutex);
    if (!state->detached && state->on_exit) state->on_exit(status);
}

}  // namespace gradatum
