// ChildProcess under resource limits: a failure to start must never leave a child without its
// waiter (a zombie), leak a descriptor, or escape as anything but a SpawnError.
#include <dirent.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "process/child_process.hpp"

using gradatum::ChildProcess;
using gradatum::SpawnError;

namespace {

int open_descriptors() {
    int count = 0;
    if (DIR* dir = opendir("/proc/self/fd")) {
        while (readdir(dir)) ++count;
        closedir(dir);
    }
    return count;
}

bool has_children() {
    int status = 0;
    return !(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
}

// Exit codes of the limited process.
enum : int { kOk = 0, kNotSpawnError = 1, kLeftAChild = 2, kLeakedFd = 3, kNeverLimited = 4 };

// In a process of its own (the limit must not touch the test runner): as an unprivileged user,
// lower RLIMIT_NPROC step by step from 0 until spawning works. Every failed step must be clean.
[[noreturn]] void spawn_under_shrinking_limits() {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(77);
    bool saw_thread_limit = false;
    for (rlim_t limit = 0; limit < 4096; ++limit) {
        rlimit nproc{};
        getrlimit(RLIMIT_NPROC, &nproc);
        const rlim_t unlimited = nproc.rlim_max;
        nproc.rlim_cur = limit;  // the soft limit: an unprivileged process may raise it again
        if (setrlimit(RLIMIT_NPROC, &nproc) != 0) _exit(77);
        int fds_before = open_descriptors();
        try {
            auto child = ChildProcess::spawn(
                gradatum::SpawnSpec{"/bin/sleep", {"sleep", "30"}, {}, ""}, nullptr, nullptr);
            nproc.rlim_cur = unlimited;
            setrlimit(RLIMIT_NPROC, &nproc);
            child.reset();  // kills and reaps it
            _exit(saw_thread_limit ? kOk : kNeverLimited);
        } catch (const SpawnError& e) {
            if (std::strstr(e.what(), "cannot create a thread")) saw_thread_limit = true;
            if (has_children()) {
                std::fprintf(stderr, "limit %lu: a child is left after: %s\n",
                             static_cast<unsigned long>(limit), e.what());
                _exit(kLeftAChild);
            }
            if (open_descriptors() != fds_before) {
                std::fprintf(stderr, "limit %lu: descriptors leaked after: %s\n",
                             static_cast<unsigned long>(limit), e.what());
                _exit(kLeakedFd);
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "limit %lu: not a SpawnError: %s\n",
                         static_cast<unsigned long>(limit), e.what());
            _exit(kNotSpawnError);
        }
    }
    _exit(kNeverLimited);
}

}  // namespace

TEST_CASE("a process or thread limit at spawn is a clean SpawnError", "[process]") {
    if (geteuid() != 0) {
        WARN("needs root to run as another user under RLIMIT_NPROC; not checked");
        return;
    }
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) spawn_under_shrinking_limits();
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        WARN("cannot switch to an unprivileged user or set RLIMIT_NPROC here; not checked");
        return;
    }
    CHECK(WEXITSTATUS(status) == kOk);
}

TEST_CASE("a missing program is a SpawnError that says the exec failed", "[process]") {
    try {
        ChildProcess::spawn(gradatum::SpawnSpec{"/nonexistent/llama-server", {}, {}, ""}, nullptr,
                            nullptr);
        FAIL("spawn succeeded");
    } catch (const SpawnError& e) {
        CHECK(e.exec_failed());
        CHECK_THAT(e.what(), Catch::Contains("could not start /nonexistent/llama-server"));
    }
}
