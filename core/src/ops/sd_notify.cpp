#include "ops/sd_notify.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "gradatum/config_values.hpp"

namespace gradatum::ops {

NotifyTarget NotifyTarget::from_environment() {
    NotifyTarget target;
    if (const char* socket = std::getenv("NOTIFY_SOCKET")) target.socket = socket;
    const char* usec = std::getenv("WATCHDOG_USEC");
    const char* pid = std::getenv("WATCHDOG_PID");
    if (usec) {
        auto value = config_values::parse_integer(usec);
        auto for_pid = pid ? config_values::parse_integer(pid) : std::optional<long long>(getpid());
        if (value && *value > 0 && for_pid && *for_pid == getpid())
            target.watchdog = std::chrono::microseconds(*value);
    }
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return target;
}

bool notify(const std::string& socket, const std::string& message) {
    if (socket.empty()) return false;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket.size() >= sizeof address.sun_path || (socket[0] != '/' && socket[0] != '@'))
        return false;
    std::memcpy(address.sun_path, socket.data(), socket.size());
    socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket.size());
    if (socket[0] == '@') {
        address.sun_path[0] = '\0';  // abstract: the name is the bytes after the NUL, no end NUL
    } else {
        length += 1;  // a path: with its terminating NUL
    }
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    ssize_t sent;
    do {
        sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                        reinterpret_cast<sockaddr*>(&address), length);
    } while (sent < 0 && errno == EINTR);
    ::close(fd);
    return sent == static_cast<ssize_t>(message.size());
}

ServiceNotifier::ServiceNotifier(NotifyTarget target, std::vector<std::string> models)
    : target_(std::move(target)),
      models_(std::move(models)),
      settled_(models_.size(), false),
      states_(models_.size(), ModelState::stopped) {
    if (target_.socket.empty() || target_.watchdog.count() == 0) return;
    auto interval = target_.watchdog / 2;
    spdlog::info("systemd watchdog: WATCHDOG=1 every {} ms", interval.count() / 1000);
    watchdog_ = std::thread([this, interval] {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!quit_) {
            lock.unlock();
            notify(target_.socket, "WATCHDOG=1");
            lock.lock();
            wake_.wait_for(lock, interval, [&] { return quit_; });
        }
    });
}

ServiceNotifier::~ServiceNotifier() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        quit_ = true;
    }
    wake_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
}

void ServiceNotifier::send(const std::string& message) {
    if (!target_.socket.empty() && !notify(target_.socket, message))
        spdlog::debug("sd_notify to {} failed: {}", target_.socket, std::strerror(errno));
}

std::string ServiceNotifier::status_locked(const std::string& last) const {
    size_t ready = 0;
    for (auto s : states_) ready += s == ModelState::ready;
    return "STATUS=" + std::to_string(ready) + "/" + std::to_string(models_.size()) +
           " models ready; " + last;
}

void ServiceNotifier::ready_if_settled_locked() {
    if (ready_sent_ || !listening_ || stopping_) return;
    for (bool s : settled_)
        if (!s) return;
    ready_sent_ = true;
    send("READY=1\n" + status_locked("serving"));
}

void ServiceNotifier::listening() {
    std::lock_guard<std::mutex> lock(mutex_);
    listening_ = true;
    send(status_locked("listening, models loading"));
    ready_if_settled_locked();
}

void ServiceNotifier::model_state(const std::string& model, ModelState state,
                                  const std::string& reason) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < models_.size(); ++i) {
        if (models_[i] != model) continue;
        states_[i] = state;
        if (state == ModelState::ready || state == ModelState::failed) settled_[i] = true;
    }
    // One line: a reason may hold a newline only by accident.
    std::string text = "model " + model + ": " + to_string(state) + ": " + reason;
    for (char& c : text)
        if (c == '\n') c = ' ';
    send(status_locked(text));
    ready_if_settled_locked();
}

void ServiceNotifier::reloading() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t usec = static_cast<uint64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
    std::lock_guard<std::mutex> lock(mutex_);
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading");
}

void ServiceNotifier::reloaded() {
    std::lock_guard<std::mutex> lock(mutex_);
    // Before the first READY=1 (models still loading) the reload must not announce readiness.
    send(std::string(ready_sent_ ? "READY=1\n" : "") + status_locked("reloaded"));
}

void ServiceNotifier::stopping() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    send("STOPPING=1\nSTATUS=stopping");
}

}  // namespace gradatum::ops
