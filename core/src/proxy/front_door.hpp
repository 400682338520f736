// The HTTP front door: every request's first stop. It takes the body in, answers what the engine
// answers itself (engine_endpoints, admin_api), and hands the rest to a model (routes → fleet
// → forward).
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
#include "proxy/admin_api.hpp"
#include "proxy/routes.hpp"
#include "proxy/upstream_pool.hpp"

namespace gradatum {
class Fleet;
class ModelSupervisor;
}  // namespace gradatum

namespace gradatum::proxy {

struct FrontDoor {
    std::chrono::milliseconds upstream_idle_timeout;
    std::streamsize max_body_bytes;
    std::chrono::milliseconds client_idle_timeout;  // for the 408 message
    std::chrono::milliseconds drain_timeout;        // admin stop/restart
    ops::Metrics& metrics;
    bool metrics_children;  // merge each ready child's own /metrics into the engine's
    // server.metrics_listen: the listener that serves /metrics only (unset: none).
    std::optional<Poco::Net::SocketAddress> metrics_address;
    std::function<size_t()> busy_threads;
    bool access_log = true;  // logging.access
    std::atomic<bool> draining{false};
    Fleet* fleet = nullptr;                    // set by the engine
    std::unique_ptr<UpstreamPool> upstream{};  // connections to the children, set by the engine
    std::function<ReloadResult()> reload;      // POST /admin/reload
    RoutesSnapshot routes;                     // a request takes it once and keeps it
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
