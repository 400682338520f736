#include "process/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "process/program_lookup.hpp"

extern char** environ;

namespace gradatum {

namespace {

constexpr size_t kStderrTailLines = 20;
// After the exit, give the reader this long to drain what the child wrote last.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(300);

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

std::unique_ptr<ChildProcess> ChildProcess::spawn(const SpawnSpec& spec, LineSink on_line,
                                                  ExitCallback on_exit) {
    auto path = find_program(spec.program);
    if (!path) {
        throw SpawnError("could not start " + spec.program + ": no executable file by that name" +
                         (spec.program.find('/') == std::string::npos ? " on PATH" : ""));
    }
    // Everything the child needs is prepared before fork: no allocation after it.
    std::vector<std::string> args =
        spec.argv.empty() ? std::vector<std::string>{spec.program} : spec.argv;
    std::vector<std::string> env = merged_environment(spec.env);
    auto argv = pointers(args);
    auto envp = pointers(env);

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
        throw SpawnError("could not start " + spec.program + ": pipe: " + std::strerror(error));
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int error = errno;
        close_all();
        throw SpawnError("could not start " + spec.program + ": fork: " + std::strerror(error));
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
        waitpid(pid, &status, 0);
        close(out_pipe[0]);
        close(err_pipe[0]);
        throw SpawnError("could not start " + *path + ": " + std::strerror(exec_errno));
    }

    std::unique_ptr<ChildProcess> child(new ChildProcess());
    child->pid_ = pid;
    child->on_line_ = std::move(on_line);
    child->on_exit_ = std::move(on_exit);
    ChildProcess* self = child.get();
    int out_fd = out_pipe[0], err_fd = err_pipe[0];
    child->reader_ = std::thread([self, out_fd, err_fd] { self->read_output(out_fd, err_fd); });
    child->waiter_ = std::thread([self] { self->wait_for_exit(); });
    return child;
}

ChildProcess::~ChildProcess() {
    signal_group(SIGKILL);
    if (waiter_.joinable()) waiter_.join();
    if (reader_.joinable()) reader_.join();
}

void ChildProcess::signal_group(int sig) {
    std::lock_guard<std::mutex> lock(mutex_);
    // After the reap the pid (and group id) may belong to another process.
    if (reaped_) return;
    if (kill(-pid_, sig) != 0) kill(pid_, sig);
}

bool ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return status_.has_value(); });
}

std::optional<ExitStatus> ChildProcess::exit_status() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return status_;
}

std::string ChildProcess::stderr_tail() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    for (const auto& line : stderr_tail_) out += line + "\n";
    return out;
}

void ChildProcess::keep_line(bool from_stderr, const std::string& line) {
    if (from_stderr) {
        std::lock_guard<std::mutex> lock(mutex_);
        stderr_tail_.push_back(line);
        if (stderr_tail_.size() > kStderrTailLines) stderr_tail_.pop_front();
    }
    if (on_line_) on_line_(from_stderr, line);
}

void ChildProcess::read_output(int out_fd, int err_fd) {
    // One poll loop for both pipes: the child never blocks on a full pipe (POCO-NOTES item 10).
    struct Stream {
        int fd;
        bool is_stderr;
        std::string partial;
    } streams[2] = {{out_fd, false, {}}, {err_fd, true, {}}};
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
                if (!s.partial.empty()) keep_line(s.is_stderr, s.partial);
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
                keep_line(s.is_stderr, line);
                start = newline + 1;
            }
            s.partial.erase(0, start);
        }
    }
    for (auto& s : streams) {
        if (s.fd >= 0) close(s.fd);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    output_closed_ = true;
    changed_.notify_all();
}

void ChildProcess::wait_for_exit() {
    // Wait without reaping first: until the reap below, the pid is still ours, so signal_group()
    // can never hit a recycled pid.
    siginfo_t info{};
    while (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        reaped_ = true;
    }
    int raw = 0;
    pid_t got;
    do {
        got = waitpid(pid_, &raw, 0);
    } while (got < 0 && errno == EINTR);
    ExitStatus status;
    if (got == pid_ && WIFSIGNALED(raw)) {
        status.signal = WTERMSIG(raw);
    } else if (got == pid_) {
        status.code = WEXITSTATUS(raw);
    }
    {
        // Let the reader take in the last lines, so stderr_tail() explains the exit; a grandchild
        // holding the pipe open must not delay the exit notice for long.
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait_for(lock, kDrainAfterExit, [&] { return output_closed_; });
        status_ = status;
        changed_.notify_all();
    }
    if (on_exit_) on_exit_(status);
}

}  // namespace gradatum
