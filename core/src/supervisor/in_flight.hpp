// The requests a model is serving right now, so that a stop can wait for them (drain) and then
// close the engine's connections to the child before signalling it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace gradatum {

class InFlight {
  public:
    // One request; removes itself when destroyed. Destroy it before the connection that its
    // abort function closes, so abort_all() never touches a dead connection.
    class Ticket {
      public:
        Ticket(InFlight& owner, uint64_t id) : owner_(owner), id_(id) {}
        ~Ticket() { owner_.remove(id_); }
        Ticket(const Ticket&) = delete;
        Ticket& operator=(const Ticket&) = delete;
        void set_abort(std::function<void()> abort) { owner_.set_abort(id_, std::move(abort)); }
        // True once abort_all() has aborted this request (the stream ended by the engine).
        bool aborted() const { return owner_.was_aborted(id_); }

      private:
        InFlight& owner_;
        uint64_t id_;
    };

    std::unique_ptr<Ticket> add();
    size_t count() const;
    // Waits until no request is in flight or the deadline passes; true if none is left.
    bool wait_empty(std::chrono::steady_clock::time_point deadline) const;
    // Calls every request's abort function (shuts its upstream socket down).
    void abort_all();

  private:
    struct Entry {
        std::function<void()> abort;
        bool aborted = false;
    };
    void remove(uint64_t id);
    void set_abort(uint64_t id, std::function<void()> abort);
    bool was_aborted(uint64_t id) const;

    mutable std::mutex mutex_;
    mutable std::condition_variable emptied_;
    std::map<uint64_t, Entry> entries_;
    uint64_t next_id_ = 1;
};

}  // namespace gradatum
