#include "proxy/router.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <set>

#include "proxy/body_fields.hpp"
#include "supervisor/model_supervisor.hpp"

namespace gradatum::proxy {

std::optional<std::string> model_field(const std::string& body) {
    return scan_body_fields(body).model;
}

Router::Router(std::map<std::string, ModelSupervisor*> names, ModelSupervisor* default_model)
    : names_(std::move(names)), default_model_(default_model) {
    std::set<ModelSupervisor*> models;
    for (const auto& [name, model] : names_) models.insert(model);
    single_ = models.size() == 1;
}

ModelSupervisor* Router::find(const std::string& name) const {
    auto it = names_.find(name);
    return it == names_.end() ? nullptr : it->second;
}

std::string Router::known() const {
    std::string list;
    for (const auto& [name, model] : names_) list += " " + name;
    return list;
}

ModelSupervisor* Router::route(const std::optional<std::string>& name, std::string& error) const {
    if (single_) return names_.begin()->second;
    if (!name) {
        if (default_model_) return default_model_;
        error =
            "the request names no model and there is no default (server.default_model); "
            "configured models:" +
            known();
        return nullptr;
    }
    if (auto* model = find(*name)) return model;
    error = "model '" + *name + "' is not configured; configured models:" + known();
    return nullptr;
}

std::optional<std::string> query_model(const std::string& uri) {
    if (uri.find('?') == std::string::npos) return std::nullopt;
    try {
        for (const auto& [name, value] : Poco::URI(uri).getQueryParameters()) {
            if (name == "model") return value;
        }
    } catch (const Poco::Exception&) {
        // A malformed query names no model.
    }
    return std::nullopt;
}

}  // namespace gradatum::proxy
