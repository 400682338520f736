// A stand-in for systemd's notification socket: an AF_UNIX datagram socket that collects what
// the engine sends to NOTIFY_SOCKET.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clock.hpp"

namespace ge_test {

class NotifyListener {
  public:
    // `name`: a socket path, or "@name" for an abstract socket.
    explicit NotifyListener(const std::string& name);
    ~NotifyListener();
    NotifyListener(const NotifyListener&) = delete;
    NotifyListener& operator=(const NotifyListener&) = delete;

    const std::string& name() const { return name_; }
    std::vector<std::string> messages() const;
    // Lines match whole, or by their start when `prefix` (always for a `line` ending in '=').
    // Waits until at least `count` messages hold `line`.
    bool wait_for(const std::string& line, std::chrono::milliseconds timeout, size_t count = 1);
    size_t count(const std::string& line) const;
    // The index of the first message holding `line`, or -1.
    int first(const std::string& line, bool prefix = false) const;

  private:
    size_t count_locked(const std::string& line) const;

    std::string name_;
    int fd_ = -1;
    bool quit_ = false;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::string> messages_;
    std::thread reader_;
};

// True when `message` holds `line` as one of its lines (with `prefix`: a line starting with it).
bool has_line(const std::string& message, const std::string& line, bool prefix = false);

}  // namespace ge_test
