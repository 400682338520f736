// The requests the engine answers itself instead of forwarding: /health, the model list when
// several models are configured, and the admin API's read side.
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <vector>

namespace gradatum {
class ModelSupervisor;
}

namespace gradatum::proxy {

// GET /health in llama-server's words: 200 {"status":"ok"} when every model is ready.
void answer_health(const std::vector<ModelSupervisor*>& models,
                   Poco::Net::HTTPServerResponse& response);

// GET /v1/models in the OpenAI list shape, each entry with its state.
void answer_models(const std::vector<ModelSupervisor*>& models,
                   Poco::Net::HTTPServerResponse& response);

// GET /admin/models: state, pid, port, uptime, starts, restarts, last exit, in-flight and
// waiting requests of every model.
void answer_admin_models(const std::vector<ModelSupervisor*>& models,
                         Poco::Net::HTTPServerResponse& response);

}  // namespace gradatum::proxy
