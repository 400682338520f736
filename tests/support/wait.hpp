// Waiting on things tests can observe, instead of sleeping and hoping: a condition polled until
// it holds, a flag another thread raises, a thread that is always joined.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "clock.hpp"

namespace ge_test {

// Polls `condition` every `poll` until it holds or `timeout` passes; returns its last value.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = 10ms);

// Raised once by one thread, waited for by another.
class Flag {
  public:
    void raise();
    bool raised() const;
    // Waits until the flag is raised; false on timeout.
    bool wait(std::chrono::milliseconds timeout) const;

  private:
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    bool raised_ = false;
};

// Runs `work` on its own thread. The thread is joined by join() or, at the latest, when the
// object dies, so that a failed REQUIRE in the test cannot leave a joinable std::thread behind
// (which would std::terminate the whole test binary). An exception thrown by `work` is kept and
// rethrown by join(). `done()` is raised when `work` has returned or thrown.
class Background {
  public:
    explicit Background(std::function<void()> work);
    ~Background();
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;

    void join();
    const Flag& done() const { return done_; }

  private:
    Flag done_;
    std::exception_ptr error_;
    std::thread thread_;
};

}  // namespace ge_test
