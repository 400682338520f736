#include "proxy/router.hpp"

#include "proxy/body_fields.hpp"
#include "supervisor/model_supervisor.hpp"

namespace gradatum::proxy {

std::optional<std::string> model_field(const std::string& body) {
    return scan_body_fields(body).model;
}

Router::Router(std::vector<ModelSupervisor*> models, ModelSupervisor* default_model)
    : models_(std::move(models)), default_model_(default_model) {}

ModelSupervisor* Router::route(const std::string& body, std::string& error) const {
    // One model takes everything, whatever name the client sends (as llama-server does).
    if (models_.size() == 1) return models_.front();
    auto name = body.empty() ? std::nullopt : model_field(body);
    if (!name) return default_model_;
    for (auto* model : models_) {
        if (model->name() == *name) return model;
    }
    error = "model '" + *name + "' is not configured; configured models:";
    for (auto* model : models_) error += " " + model->name();
    return nullptr;
}

}  // namespace gradatum::proxy
