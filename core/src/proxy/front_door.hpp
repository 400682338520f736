// The HTTP front door: every request's first stop. It takes the body in, answers what the engine
// answers itself (engine_endpoints), and hands the rest to a model (router → admit → forward).
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <Poco/Net/SocketAddress.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "ops/metrics.hpp"
#include "proxy/client_keys.hpp"
#include "proxy/router.hpp"
#include "proxy/upstream_pool.hpp"

namespace gradatum {
class ModelSupervisor;
}

namespace gradatum::proxy {

struct FrontDoor {
    Router router;
    std::vector<ModelSupervisor*> models;
    std::chrono::milliseconds upstream_idle_timeout;
    std::streamsize max_body_bytes;
    std::chrono::milliseconds client_idle_timeout;  // for the 408 message
    ClientKeys keys;
    bool health_requires_key;
    ops::Metrics& metrics;
    bool metrics_children;  // merge each ready child's own /metrics into the engine's
    // server.metrics_listen: the listener that serves /metrics only (unset: none).
    std::optional<Poco::Net::SocketAddress> metrics_address;
    std::function<size_t()> busy_threads;
    bool access_log = true;  // logging.access
    std::atomic<bool> draining{false};
    std::unique_ptr<UpstreamPool> upstream{};  // connections to the children, set by the engine
};

class RequestHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
  public:
    explicit RequestHandlerFactory(FrontDoor& door) : door_(door) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest& request) override;

  private:
    FrontDoor& door_;
};

}  // namespace gradatum::proxy
