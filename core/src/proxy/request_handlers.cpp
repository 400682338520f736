#include "request_handlers.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "forwarder.hpp"
#include "gradatum/model_supervisor.hpp"
#include "openai_error.hpp"

namespace gradatum::proxy {

namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

// A client that stops reading must not hold a request thread forever.
const Poco::Timespan kClientSendTimeout(60, 0);

// GET /health speaks llama-server's language: 200 {"status":"ok"} when every model is ready.
void answer_health(const FrontDoor& door, HTTPServerResponse& response) {
    for (auto* model : door.models) {
        ModelState state = model->state();
        if (state == ModelState::ready) continue;
        if (state == ModelState::failed) {
            send_error(response, 503, "unavailable_error",
                       "model '" + model->name() + "' has failed: " + model->state_reason());
        } else {
            send_error(response, 503, "unavailable_error", "Loading model", 1);
        }
        return;
    }
    static const std::string ok = R"({"status":"ok"})";
    response.setContentType("application/json; charset=utf-8");
    response.setContentLength64(static_cast<Poco::Int64>(ok.size()));
    response.send() << ok;
}

// GET /v1/models with several models lists them all (with one, the child answers: its list has
// more detail). Each entry carries the model's state.
void answer_models(const FrontDoor& door, HTTPServerResponse& response) {
    nlohmann::json data = nlohmann::json::array();
    for (auto* model : door.models) {
        data.push_back({{"id", model->name()},
                        {"object", "model"},
                        {"created", 0},
                        {"owned_by", "gradatum-engine"},
                        {"status", to_string(model->state())}});
    }
    std::string body = nlohmann::json{{"object", "list"}, {"data", data}}.dump();
    response.setContentType("application/json; charset=utf-8");
    response.setContentLength64(static_cast<Poco::Int64>(body.size()));
    response.send() << body;
}

class ProxyRequestHandler : public Poco::Net::HTTPRequestHandler {
  public:
    explicit ProxyRequestHandler(FrontDoor& door) : door_(door) {}

    void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
        try {
            handle(request, response);
        } catch (const std::exception& e) {
            spdlog::error("{} {}: {}", request.getMethod(), request.getURI(), e.what());
            if (!response.sent()) send_error(response, 500, "server_error", e.what());
        }
    }

  private:
    void handle(HTTPServerRequest& request, HTTPServerResponse& response) {
        static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket().setSendTimeout(
            kClientSendTimeout);
        if (door_.draining) {
            response.setKeepAlive(false);
            send_error(response, 503, "unavailable_error", "the engine is shutting down", 5);
            return;
        }
        std::string body;
        Poco::StreamCopier::copyToString(request.stream(), body);
        const std::string path = request.getURI().substr(0, request.getURI().find('?'));
        if (path == "/health" && (request.getMethod() == "GET" || request.getMethod() == "HEAD")) {
            answer_health(door_, response);
            return;
        }
        if (path == "/v1/models" && request.getMethod() == "GET" && door_.models.size() > 1) {
            answer_models(door_, response);
            return;
        }
        std::string route_error;
        ModelSupervisor* model = door_.router.route(body, route_error);
        if (!model) {
            send_error(response, 404, "invalid_request_error", route_error);
            return;
        }
        Admission admission = model->admit();
        if (!admission.admitted) {
            send_error(response, admission.status, admission.error_type, admission.message,
                       admission.retry_after_s);
            return;
        }
        forward(request, body, response,
                ForwardJob{model->name(), admission.target, *admission.ticket,
                           door_.upstream_idle_timeout});
    }

    FrontDoor& door_;
};

}  // namespace

Poco::Net::HTTPRequestHandler* RequestHandlerFactory::createRequestHandler(
    const Poco::Net::HTTPServerRequest&) {
    return new ProxyRequestHandler(door_);
}

}  // namespace gradatum::proxy
