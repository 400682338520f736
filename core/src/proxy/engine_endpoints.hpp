// The requests the engine answers itself instead of forwarding: /health, the model list and
// /metrics (the admin API is in admin_api.hpp).
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <nlohmann/json.hpp>

#include <vector>

#include "ops/metrics.hpp"
#include "proxy/routes.hpp"

namespace gradatum {
class ModelSupervisor;
}

namespace gradatum::proxy {

// GET /health in llama-server's words: 200 {"status":"ok"} when every loaded autostart model is
// ready and none has failed (a model that starts on demand does not make the engine unhealthy).
void answer_health(const std::vector<ModelSupervisor*>& models,
                   Poco::Net::HTTPServerResponse& response);

// GET /v1/models in the OpenAI list shape: every model and alias (an alias entry says whose), each
// with its state, running or not. `only`: a per-model listener lists its own model alone.
void answer_models(const Routes& routes, const ModelSupervisor* only,
                   Poco::Net::HTTPServerResponse& response);

// A JSON body with Content-Length (200 unless the response's status was set).
void send_json(Poco::Net::HTTPServerResponse& response, const nlohmann::json& json);

// GET /metrics: the engine's metrics (Prometheus text format), and with `children` each ready
// child's own /metrics with a model label.
void answer_metrics(const std::vector<ModelSupervisor*>& models, const ops::Metrics& metrics,
                    size_t busy_threads, bool children, Poco::Net::HTTPServerResponse& response);

}  // namespace gradatum::proxy
