#include "request_handlers.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "forwarder.hpp"
#include "openai_error.hpp"
#include "supervisor/model_supervisor.hpp"

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

enum class BodyRead { complete, too_large, incomplete };

// Reads the whole body. Too large: it is not read to the end. Incomplete: the client went away
// or stalled mid-upload; forwarding the part would make llama-server work for nobody.
BodyRead read_body(HTTPServerRequest& request, std::streamsize limit, std::string& body) {
    if (request.hasContentLength() && request.getContentLength64() > limit) {
        return BodyRead::too_large;
    }
    try {
        std::istream& in = request.stream();
        char buffer[16384];
        while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
            body.append(buffer, static_cast<size_t>(in.gcount()));
            if (static_cast<std::streamsize>(body.size()) > limit) return BodyRead::too_large;
        }
        if (in.bad()) return BodyRead::incomplete;
    } catch (const Poco::Exception&) {
        return BodyRead::incomplete;
    }
    if (request.hasContentLength() &&
        static_cast<Poco::Int64>(body.size()) != request.getContentLength64()) {
        return BodyRead::incomplete;
    }
    return BodyRead::complete;
}

// A client still sending a body we will not read would get a reset instead of the answer: stop
// writing, then read and drop what it sends for a short while (a lingering close).
void discard_rest(Poco::Net::StreamSocket& client) {
    try {
        client.shutdownSend();
        client.setReceiveTimeout(Poco::Timespan(0, 200 * 1000));
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        char buffer[16384];
        while (std::chrono::steady_clock::now() < deadline &&
               client.receiveBytes(buffer, sizeof buffer) > 0) {
        }
    } catch (const Poco::Exception&) {
    }
}

// Answers with an error and closes, without reading the rest of the request.
void refuse(HTTPServerRequest& request, HTTPServerResponse& response, int status,
            const std::string& type, const std::string& message, int retry_after_s = 0) {
    response.setKeepAlive(false);
    send_error(response, status, type, message, retry_after_s);
    discard_rest(static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket());
}

class ProxyRequestHandler : public Poco::Net::HTTPRequestHandler {
  public:
    explicit ProxyRequestHandler(FrontDoor& door) : door_(door) {}

    void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
        try {
            handle(request, response);
        } catch (const Poco::Exception& e) {  // what() is only the class name
            spdlog::error("{} {}: {}", request.getMethod(), request.getURI(), e.displayText());
            if (!response.sent()) send_error(response, 500, "server_error", e.displayText());
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
            refuse(request, response, 503, "unavailable_error", "the engine is shutting down", 5);
            return;
        }
        std::string body;
        switch (read_body(request, door_.max_body_bytes, body)) {
            case BodyRead::complete:
                break;
            case BodyRead::too_large:
                refuse(request, response, 413, "invalid_request_error",
                       "request body larger than " + std::to_string(door_.max_body_bytes >> 20) +
                           " MiB (server.max_body_mb)");
                return;
            case BodyRead::incomplete:
                refuse(request, response, 400, "invalid_request_error",
                       "the request body ended before its announced length");
                return;
        }
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
