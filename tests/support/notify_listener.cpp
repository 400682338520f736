#include "notify_listener.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <stdexcept>

namespace ge_test {

bool has_line(const std::string& message, const std::string& line, bool prefix) {
    size_t at = 0;
    while (at <= message.size()) {
        size_t end = std::min(message.find('\n', at), message.size());
        std::string l = message.substr(at, end - at);
        if (prefix ? l.rfind(line, 0) == 0 : l == line) return true;
        at = end + 1;
    }
    return false;
}

NotifyListener::NotifyListener(const std::string& name) : name_(name) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (name.size() >= sizeof address.sun_path) throw std::runtime_error("socket name too long");
    std::memcpy(address.sun_path, name.data(), name.size());
    socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (name[0] == '@')
        address.sun_path[0] = '\0';
    else
        length += 1;
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0)
        throw std::runtime_error("cannot bind " + name + ": " + std::strerror(errno));
    reader_ = std::thread([this] {
        char buffer[4096];
        while (true) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                if (quit_) return;
            }
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
            if (n <= 0) continue;
            std::lock_guard<std::mutex> lock(mutex_);
            messages_.emplace_back(buffer, static_cast<size_t>(n));
            changed_.notify_all();
        }
    });
}

NotifyListener::~NotifyListener() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        quit_ = true;
    }
    reader_.join();
    ::close(fd_);
    if (name_[0] != '@') ::unlink(name_.c_str());
}

std::vector<std::string> NotifyListener::messages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
}

size_t NotifyListener::count_locked(const std::string& line) const {
    bool prefix = !line.empty() && line.back() == '=';
    size_t n = 0;
    for (const auto& m : messages_) n += has_line(m, line, prefix);
    return n;
}

size_t NotifyListener::count(const std::string& line) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_locked(line);
}

int NotifyListener::first(const std::string& line, bool prefix) const {
    std::lock_guard<std::mutex> lock(mutex_);
    prefix = prefix || (!line.empty() && line.back() == '=');
    for (size_t i = 0; i < messages_.size(); ++i)
        if (has_line(messages_[i], line, prefix)) return static_cast<int>(i);
    return -1;
}

bool NotifyListener::wait_for(const std::string& line, std::chrono::milliseconds timeout,
                              size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return count_locked(line) >= count; });
}

}  // namespace ge_test
