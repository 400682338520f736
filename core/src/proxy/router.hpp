// Picks the model a request is for: by name or alias (the JSON body's "model", a GET's
// ?model=), else the default one.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gradatum {
class ModelSupervisor;
}

namespace gradatum::proxy {

// The top-level "model" string of a JSON body: scan_body_fields(body).model (see its rules).
std::optional<std::string> model_field(const std::string& body);

// The ?model= of a request that has no body to name one (GET), if its target has one.
std::optional<std::string> query_model(const std::string& uri);

// Finds a model by name or alias. Immutable: a reload builds a new one.
class Router {
  public:
    // `names`: every model name and alias → its model; `default_model` may be null (several
    // models and no server.default_model).
    Router(std::map<std::string, ModelSupervisor*> names, ModelSupervisor* default_model);
    ModelSupervisor* find(const std::string& name) const;
    // The model `name` selects, or the default when there is no name. With one model, every
    // name selects it (as llama-server takes any). nullptr with `error` set otherwise.
    ModelSupervisor* route(const std::optional<std::string>& name, std::string& error) const;

  private:
    std::string known() const;
    std::map<std::string, ModelSupervisor*> names_;
    ModelSupervisor* default_model_;
    bool single_;
};

}  // namespace gradatum::proxy
