// The requests the engine answers itself instead of forwarding: /health, the model list when
// several models are configured, and the admin API's read side.
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <vector>

#include "ops/metrics.hpp"

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

// GET /metrics: the engine's metrics (Prometheus text format), and with `children` each ready
// child's own /metrics with a model label.
void answer_metrics(const std::vector<ModelSupervisor*>& models, const ops::Metrics& metrics,
                    size_t busy_threads, bool children, Poco::Net::HTTPServerResponse& response);

}  // namespace gradatum::proxy
