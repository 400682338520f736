#include "wait.hpp"

#include <utility>

namespace ge_test {

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(poll);
    }
    return condition();
}

void Flag::raise() {
    std::lock_guard<std::mutex> lock(mutex_);
    raised_ = true;
    changed_.notify_all();
}

bool Flag::raised() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return raised_;
}

bool Flag::wait(std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return raised_; });
}

Background::Background(std::function<void()> work)
    : thread_([this, work = std::move(work)] {
          try {
              work();
          } catch (...) {
              error_ = std::current_exception();
          }
          done_.raise();
      }) {}

Background::~Background() {
    if (thread_.joinable()) thread_.join();
}

void Background::join() {
    if (thread_.joinable()) thread_.join();
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

}  // namespace ge_test
