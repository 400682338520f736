// One thread that moves the bytes of every open event stream, nginx-style: an epoll set watches
// all streams' upstream sockets (and their clients' hang-ups), and each wake-up forwards what
// has arrived with non-blocking calls. A request thread that holds a stream blocks without
// waking per event: with one thread per stream, every event cost two thread switches, which on
// a small machine was most of the proxy's CPU per event.
//
// A stream comes back to its request thread when it ends, breaks, its client goes away or would
// block (the thread then finishes the write, bounded by the send timeout, and hands it back), or
// it stays silent past its deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

namespace gradatum::proxy {

class StreamRelay {
  public:
    using Clock = std::chrono::steady_clock;

    class Stream {
      public:
        Stream(int upstream_fd, int client_fd) : upstream_fd(upstream_fd), client_fd(client_fd) {}
        virtual ~Stream() = default;

        // On the relay thread. The upstream is readable (or hung up): forward what is there,
        // without blocking. False: give the stream back to its thread.
        virtual bool on_upstream() = 0;
        // On the relay thread: the client hung up. The stream goes back after this.
        virtual void on_client_gone() = 0;
        // On the relay thread: when on_deadline() is due (e.g. the end of the allowed silence).
        virtual Clock::time_point deadline() const = 0;
        // False: give the stream back.
        virtual bool on_deadline(Clock::time_point now) = 0;
        // On the relay thread: the relay is stopping; the stream goes back after this.
        virtual void on_relay_stopping() = 0;

        const int upstream_fd;
        const int client_fd;

      private:
        friend class StreamRelay;
        std::mutex mutex_;
        std::condition_variable back_;
        bool with_thread_ = true;
    };

    StreamRelay();
    ~StreamRelay();
    StreamRelay(const StreamRelay&) = delete;
    StreamRelay& operator=(const StreamRelay&) = delete;

    // Hands `stream` to the relay thread and waits until it comes back (see Stream).
    void run(Stream& stream);

  private:
    void loop();
    void adopt();
    void give_back(Stream* stream);

    int epoll_ = -1;
    int wake_ = -1;
    std::atomic<bool> stopping_{false};
    std::mutex incoming_mutex_;
    std::vector<Stream*> incoming_;
    bool closed_ = false;  // under incoming_mutex_: the relay thread takes no more streams
    // Relay thread only.
    std::set<std::pair<Clock::time_point, Stream*>> deadlines_;
    std::map<Stream*, Clock::time_point> watched_;  // each watched stream's entry in deadlines_
    std::thread thread_;
};

}  // namespace gradatum::proxy
