#include "proxy/engine_endpoints.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <nlohmann/json.hpp>

#include <map>

#include "logging/logging.hpp"

#include "proxy/openai_error.hpp"
#include "supervisor/model_supervisor.hpp"

namespace gradatum::proxy {

void send_json(Poco::Net::HTTPServerResponse& response, const nlohmann::json& json) {
    std::string body = json.dump();
    response.setContentType("application/json; charset=utf-8");
    response.setContentLength64(static_cast<Poco::Int64>(body.size()));
    response.send() << body;
}

void answer_health(const std::vector<ModelSupervisor*>& models,
                   Poco::Net::HTTPServerResponse& response) {
    for (auto* model : models) {
        // A remote target's outage is not the engine's: its requests and /admin/models say it.
        if (!model->has_process()) continue;
        ModelState state = model->state();
        if (state == ModelState::ready) continue;
        if (state != ModelState::failed && (!model->settings().autostart || !model->loaded()))
            continue;
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

void answer_models(const Routes& routes, const ModelSupervisor* only,
                   Poco::Net::HTTPServerResponse& response) {
    nlohmann::json data = nlohmann::json::array();
    for (const auto& model : routes.models) {
        if (only && model.get() != only) continue;
        const std::string state = to_string(model->state());
        data.push_back({{"id", model->name()},
                        {"object", "model"},
                        {"created", 0},
                        {"owned_by", "gradatum-engine"},
                        {"status", state}});
        auto it = routes.aliases.find(model.get());
        if (it == routes.aliases.end()) continue;
        for (const auto& alias : it->second) {
            data.push_back({{"id", alias},
                            {"object", "model"},
                            {"created", 0},
                            {"owned_by", "gradatum-engine"},
                            {"status", state},
                            {"alias_of", model->name()}});
        }
    }
    send_json(response, {{"object", "list"}, {"data", data}});
}

void answer_metrics(const std::vector<ModelSupervisor*>& models, const ops::Metrics& metrics,
                    size_t busy_threads, bool children, Poco::Net::HTTPServerResponse& response) {
    std::string text = metrics.render(models, busy_threads, logging::dropped_total());
    if (children) {
        std::map<std::string, bool> seen;
        for (auto* model : models) {
            auto target = model->serving_target();
            if (!target) continue;
            try {
                Poco::Net::HTTPClientSession session(target->host, target->port);
                session.setTimeout(Poco::Timespan(2, 0));
                Poco::Net::HTTPRequest request("GET", "/metrics", "HTTP/1.1");
                for (const auto& [name, value] : target->headers) request.set(name, value);
                session.sendRequest(request);
                Poco::Net::HTTPResponse answer;
                std::istream& body = session.receiveResponse(answer);
                std::string child;
                Poco::StreamCopier::copyToString(body, child);
                if (answer.getStatus() == 200)
                    text += ops::label_exposition(child, model->name(), seen);
            } catch (const Poco::Exception&) {
                // A child that cannot answer now has no metrics in this scrape.
            }
        }
    }
    response.setContentType("text/plain; version=0.0.4");  // the exposition format's own type
    response.setContentLength64(static_cast<Poco::Int64>(text.size()));
    response.send() << text;
}

}  // namespace gradatum::proxy
