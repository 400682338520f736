// HTTP side of the fake llama-server: shared state and the request handler factory.
#pragma once

#include <Poco/Event.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "options.hpp"

namespace fake {

// A request as it arrived, kept byte-exact so tests can check what a proxy forwarded.
struct RecordedRequest {
    std::string method;
    std::string uri;
    std::vector<std::pair<std::string, std::string>> headers;  // in arrival order
    std::string body;
    std::string peer;  // the client's address:port: one per connection (a proxy's reuse shows)
};

// State shared by main and all handler threads.
class ServerState {
  public:
    explicit ServerState(Options options);

    const Options& options() const { return options_; }

    void markLoaded() { loaded_ = true; }
    bool loaded() const { return loaded_; }
    // True once --fake-hang-health-after-ms has passed since start.
    bool healthHung() const;
    // True once --fake-hang-generation-after-ms has passed since start.
    bool generationHung() const;

    void record(RecordedRequest request);
    std::optional<RecordedRequest> lastRequest() const;

    // Sleeps for `ms` or until shutdown begins; returns false if it was cut short.
    bool sleepFor(int ms);
    void beginShutdown() { shutdown_.set(); }
    bool shuttingDown() { return shutdown_.tryWait(0); }

    // Closes the listening socket (new connections are refused); set by main.
    std::function<void()> close_listener;
    // The listening socket's descriptor and the number of open client connections; set by main.
    int listener_fd = -1;
    std::function<int()> open_connections;

    // Counters for /metrics.
    std::atomic<long> requests_processing{0};
    std::atomic<long> tokens_predicted{0};
    std::atomic<long> next_id{1};
    std::atomic<long> hang_ups{0};  // requests to /fake/hang-up

  private:
    const Options options_;
    const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    std::atomic<bool> loaded_{false};
    Poco::Event shutdown_{Poco::Event::EVENT_MANUALRESET};
    mutable std::mutex mutex_;
    std::optional<RecordedRequest> last_request_;
};

class HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
  public:
    explicit HandlerFactory(ServerState& state) : state_(state) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest& request) override;

  private:
    ServerState& state_;
};

}  // namespace fake
