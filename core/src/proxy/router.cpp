#include "router.hpp"

#include <nlohmann/json.hpp>

#include "supervisor/model_supervisor.hpp"

namespace gradatum::proxy {

Router::Router(std::vector<ModelSupervisor*> models, ModelSupervisor* default_model)
    : models_(std::move(models)), default_model_(default_model) {}

ModelSupervisor* Router::route(const std::string& body, std::string& error) const {
    // One model takes everything, whatever name the client sends (as llama-server does).
    if (models_.size() == 1) return models_.front();
    if (body.empty()) return default_model_;
    auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object() || !json.contains("model") || !json["model"].is_string()) {
        return default_model_;
    }
    const std::string name = json["model"].get<std::string>();
    for (auto* model : models_) {
        if (model->name() == name) return model;
    }
    error = "model '" + name + "' is not configured; configured models:";
    for (auto* model : models_) error += " " + model->name();
    return nullptr;
}

}  // namespace gradatum::proxy
