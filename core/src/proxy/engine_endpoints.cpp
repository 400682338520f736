#include "proxy/engine_endpoints.hpp"

#include <nlohmann/json.hpp>

#include "proxy/openai_error.hpp"
#include "supervisor/model_supervisor.hpp"

namespace gradatum::proxy {

namespace {

void send_json(Poco::Net::HTTPServerResponse& response, const nlohmann::json& json) {
    std::string body = json.dump();
    response.setContentType("application/json; charset=utf-8");
    response.setContentLength64(static_cast<Poco::Int64>(body.size()));
    response.send() << body;
}

}  // namespace

void answer_health(const std::vector<ModelSupervisor*>& models,
                   Poco::Net::HTTPServerResponse& response) {
    for (auto* model : models) {
        ModelState state = model->state();
        if (state == ModelState::ready) continue;
        if (state == ModelState::failed) {
            send_error(response, errors::model_failed,
                       "model '" + model->name() + "' has failed: " + model->state_reason());
        } else {
            send_error(response, errors::model_loading, "Loading model", 1);
        }
        return;
    }
    send_json(response, {{"status", "ok"}});
}

void answer_models(const std::vector<ModelSupervisor*>& models,
                   Poco::Net::HTTPServerResponse& response) {
    nlohmann::json data = nlohmann::json::array();
    for (auto* model : models) {
        data.push_back({{"id", model->name()},
                        {"object", "model"},
                        {"created", 0},
                        {"owned_by", "gradatum-engine"},
                        {"status", to_string(model->state())}});
    }
    send_json(response, {{"object", "list"}, {"data", data}});
}

void answer_admin_models(const std::vector<ModelSupervisor*>& models,
                         Poco::Net::HTTPServerResponse& response) {
    nlohmann::json data = nlohmann::json::array();
    for (auto* model : models) {
        ModelStatus s = model->status();
        data.push_back({{"id", model->name()},
                        {"state", to_string(s.state)},
                        {"state_reason", s.reason},
                        {"pid", s.pid},
                        {"port", s.port},
                        {"uptime_s", static_cast<double>(s.uptime_ms) / 1000},
                        {"starts", s.starts},
                        {"restarts", s.restarts},
                        {"ready_count", s.ready_count},
                        {"last_exit", s.last_exit},
                        {"in_flight", s.in_flight},
                        {"waiting", s.waiting}});
    }
    send_json(response, {{"object", "list"}, {"data", data}});
}

}  // namespace gradatum::proxy
