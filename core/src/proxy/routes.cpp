#include "proxy/routes.hpp"

#include <algorithm>

#include "supervisor/model_supervisor.hpp"

namespace gradatum::proxy {

std::string listener_key(const ListenAddress& address) {
    return Poco::Net::SocketAddress(address.host, address.port).toString();
}

std::vector<ModelSupervisor*> Routes::raw_models() const {
    std::vector<ModelSupervisor*> raw;
    for (const auto& model : models) raw.push_back(model.get());
    return raw;
}

ModelSupervisor* Routes::for_listener(const Poco::Net::SocketAddress& address) const {
    if (by_listener.empty()) return nullptr;
    auto it = by_listener.find(address.toString());
    return it == by_listener.end() ? nullptr : it->second;
}

namespace {

Router make_router(const EngineConfig& config,
                   const std::vector<std::shared_ptr<ModelSupervisor>>& models) {
    std::map<std::string, ModelSupervisor*> names;
    ModelSupervisor* default_model = models.size() == 1 ? models.front().get() : nullptr;
    for (const auto& model : models) {
        names[model->name()] = model.get();
        for (const auto& alias : model->settings().aliases) names[alias] = model.get();
        if (model->name() == config.server.default_model) default_model = model.get();
    }
    return Router(std::move(names), default_model);
}

}  // namespace

std::shared_ptr<const Routes> build_routes(const EngineConfig& config,
                                           std::vector<std::shared_ptr<ModelSupervisor>> models) {
    std::sort(models.begin(), models.end(),
              [](const auto& a, const auto& b) { return a->name() < b->name(); });
    Router router = make_router(config, models);
    auto routes = std::make_shared<Routes>(Routes{std::move(models),
                                                  std::move(router),
                                                  {},
                                                  {},
                                                  ClientKeys(config.server.api_keys),
                                                  ClientKeys(config.server.admin_keys),
                                                  config.server.health_requires_key});
    for (const auto& model : routes->models) {
        routes->aliases[model.get()] = model->settings().aliases;
        if (model->settings().listen) {
            routes->by_listener[listener_key(*model->settings().listen)] = model.get();
        }
    }
    return routes;
}

}  // namespace gradatum::proxy
