// The HTTP front door: /health answered by the engine, everything else forwarded to a model.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <atomic>
#include <chrono>
#include <vector>

#include "router.hpp"

namespace gradatum {
class ModelSupervisor;
}

namespace gradatum::proxy {

struct FrontDoor {
    Router router;
    std::vector<ModelSupervisor*> models;
    std::chrono::milliseconds upstream_idle_timeout;
    std::streamsize max_body_bytes;
    std::atomic<bool> draining{false};
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
