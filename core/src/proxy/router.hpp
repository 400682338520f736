// Picks the model a request is for: the only model, or the JSON body's "model" field.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gradatum {
class ModelSupervisor;
}

namespace gradatum::proxy {

// The top-level "model" string of a JSON body: scan_body_fields(body).model (see its rules).
std::optional<std::string> model_field(const std::string& body);

class Router {
  public:
    Router(std::vector<ModelSupervisor*> models, ModelSupervisor* default_model);
    // Returns nullptr and sets `error` when the body names a model that is not configured.
    ModelSupervisor* route(const std::string& body, std::string& error) const;

  private:
    std::vector<ModelSupervisor*> models_;
    ModelSupervisor* default_model_;
};

}  // namespace gradatum::proxy
