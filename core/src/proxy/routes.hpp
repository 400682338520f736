// What a request can reach, as one snapshot of the configuration: the models, their names and
// aliases, the per-model listeners and the keys. A reload builds a new snapshot and swaps it in;
// a request keeps the one it started with, and with it the models it may use.
#pragma once

#include <Poco/Net/SocketAddress.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "proxy/client_keys.hpp"
#include "proxy/router.hpp"

namespace gradatum {
class ModelSupervisor;
}

namespace gradatum::proxy {

struct Routes {
    std::vector<std::shared_ptr<ModelSupervisor>> models;  // sorted by name
    Router router;
    std::map<const ModelSupervisor*, std::vector<std::string>> aliases;
    // models.<name>.listen: the listener's "address:port" → its model.
    std::map<std::string, ModelSupervisor*> by_listener;
    ClientKeys keys;
    ClientKeys admin_keys;
    bool health_requires_key = false;

    std::vector<ModelSupervisor*> raw_models() const;
    // The model a listener serves alone, or nullptr (server.listen).
    ModelSupervisor* for_listener(const Poco::Net::SocketAddress& address) const;
};

// The current Routes, swapped whole by a reload while requests read it.
class RoutesSnapshot {
  public:
    std::shared_ptr<const Routes> get() const { return std::atomic_load(&routes_); }
    void set(std::shared_ptr<const Routes> routes) {
        std::atomic_store(&routes_, std::move(routes));
    }

  private:
    std::shared_ptr<const Routes> routes_;
};

// The snapshot for `config`; `models` holds a supervisor for each of config.models.
std::shared_ptr<const Routes> build_routes(const EngineConfig& config,
                                           std::vector<std::shared_ptr<ModelSupervisor>> models);

// "address:port" as Poco prints a bound listener (IPv6 in brackets).
std::string listener_key(const ListenAddress& address);

}  // namespace gradatum::proxy
