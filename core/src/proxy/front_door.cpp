#include "proxy/front_door.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>
#include <spdlog/spdlog.h>

#include "gradatum/config_values.hpp"
#include "http/server_request.hpp"
#include "http/server_response.hpp"
#include "logging/logging.hpp"
#include "proxy/body_intake.hpp"
#include "proxy/engine_endpoints.hpp"
#include "proxy/forwarder.hpp"
#include "proxy/lingering_close.hpp"
#include "proxy/openai_error.hpp"
#include "supervisor/model_supervisor.hpp"

namespace gradatum::proxy {

namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

// The supervisor's refusal in the OpenAI envelope.
void send_refusal(HTTPServerResponse& response, const ModelSupervisor& model,
                  const Admission& admission) {
    const std::string name = "model '" + model.name() + "'";
    switch (admission.refusal) {
        case Refusal::loading:
            send_error(response, errors::model_loading, "Loading model",
                       1);  // llama-server's words
            return;
        case Refusal::restart_timeout:
            send_error(response, errors::model_restarting,
                       name + " is restarting and was not ready within " +
                           config_values::format_seconds(model.settings().queue_timeout) +
                           " (queue_timeout)",
                       5);
            return;
        case Refusal::too_many_waiting:
            send_error(response, errors::too_many_waiting,
                       name + " is restarting and " + std::to_string(model.settings().max_waiting) +
                           " requests already wait for it (max_waiting)",
                       5);
            return;
        case Refusal::failed:
            send_error(response, errors::model_failed, name + " has failed: " + admission.failure);
            return;
        case Refusal::stopping:
        case Refusal::none:
            send_error(response, errors::shutting_down, "the engine is shutting down", 5);
            return;
    }
}

// A client's key is never forwarded: the child gets its own secret instead (the target's
// headers), and no second Authorization or x-api-key may ride along.
void strip_client_keys(HTTPServerRequest& request) {
    std::vector<std::string> names;
    for (const auto& [name, value] : request) {
        if (ClientKeys::is_key_header(name)) names.push_back(name);
    }
    for (const auto& name : names) request.erase(name);
}

class ProxyRequestHandler : public Poco::Net::HTTPRequestHandler {
  public:
    explicit ProxyRequestHandler(FrontDoor& door) : door_(door) {}

    void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
        try {
            handle(request, response);
        } catch (const Poco::Exception& e) {  // what() is only the class name
            spdlog::error("{} {}: {}", request.getMethod(), request.getURI(), e.displayText());
            if (!response.sent()) send_error(response, errors::internal_error, e.displayText());
        } catch (const std::exception& e) {
            spdlog::error("{} {}: {}", request.getMethod(), request.getURI(), e.what());
            if (!response.sent()) send_error(response, errors::internal_error, e.what());
        }
        account(static_cast<http::ServerRequest&>(request),
                static_cast<http::ServerResponse&>(response));
    }

  private:
    // The request's line in the metrics.
    void account(http::ServerRequest& request, http::ServerResponse& response) {
        using Seconds = std::chrono::duration<double>;
        auto now = std::chrono::steady_clock::now();
        ops::Metrics::Request r;
        r.model = served_model_;
        r.route = ops::route_label(request.getURI().substr(0, request.getURI().find('?')));
        r.status = response.sent() ? static_cast<int>(response.getStatus()) : 0;
        r.seconds = Seconds(now - request.received_at()).count();
        if (response.sent())
            r.first_byte_s = Seconds(response.head_sent_at() - request.received_at()).count();
        r.bytes_in = body_bytes_;
        response.flush_body();
        r.bytes_out = response.body_bytes();
        door_.metrics.record(r);
        if (!door_.access_log) return;
        // One line per request: who, what, how it ended, how long it took.
        auto ms = [](double seconds) {
            return seconds < 0 ? std::string("-") : fmt::format("{:.1f}ms", seconds * 1000);
        };
        const std::string line =
            fmt::format("access: {} {} {} {} {} in={} out={} ttfb={} time={} cut={}",
                        request.clientAddress().toString(),
                        served_model_name_.empty() ? "-" : served_model_name_, request.getMethod(),
                        request.getURI(), r.status, r.bytes_in, r.bytes_out, ms(r.first_byte_s),
                        ms(r.seconds), cut_by_.empty() ? "-" : cut_by_);
        if (served_model_name_.empty()) {
            spdlog::info("{}", line);
        } else {
            logging::for_model_plain(served_model_name_)->info("{}", line);
        }
    }

    void handle(HTTPServerRequest& request, HTTPServerResponse& response) {
        auto& server_request = static_cast<http::ServerRequest&>(request);
        if (door_.metrics_address && server_request.serverAddress() == *door_.metrics_address) {
            // server.metrics_listen serves the metrics and nothing else.
            const std::string p = request.getURI().substr(0, request.getURI().find('?'));
            if (p == "/metrics" && request.getMethod() == "GET") {
                answer_metrics(door_.models, door_.metrics, door_.busy_threads(),
                               door_.metrics_children, response);
            } else {
                send_error(response, errors::not_found,
                           "only GET /metrics is served on server.metrics_listen");
            }
            return;
        }
        if (door_.draining) {
            refuse(request, response, errors::shutting_down, "the engine is shutting down", 5);
            return;
        }
        const std::string path = request.getURI().substr(0, request.getURI().find('?'));
        const std::string& method = request.getMethod();
        const bool health = path == "/health" && (method == "GET" || method == "HEAD");
        // Before the body is read: an unknown client does not get to upload.
        if ((!health || door_.health_requires_key) && !door_.keys.accepts(request)) {
            refuse(
                request, response, errors::invalid_api_key,
                "missing or wrong API key: send Authorization: Bearer <key> or x-api-key: <key>");
            return;
        }
        strip_client_keys(request);
        std::string body;
        switch (read_body(static_cast<http::ServerRequest&>(request), door_.max_body_bytes, body)) {
            case BodyRead::complete:
                break;
            case BodyRead::too_large:
                refuse(request, response, errors::request_too_large,
                       "request body larger than " + std::to_string(door_.max_body_bytes >> 20) +
                           " MiB (server.max_body_mb)");
                return;
            case BodyRead::incomplete:
                refuse(request, response, errors::bad_request,
                       "the request body was cut short (it ended before its Content-Length, or "
                       "before its last chunk)");
                return;
            case BodyRead::timed_out:
                refuse(request, response, errors::request_timeout,
                       "the request body stalled for " +
                           config_values::format_seconds(door_.client_idle_timeout) +
                           " (server.client_idle_timeout)");
                return;
        }

        body_bytes_ = body.size();
        if (path == "/metrics" && method == "GET") {
            answer_metrics(door_.models, door_.metrics, door_.busy_threads(),
                           door_.metrics_children, response);
            return;
        }
        if (health) {
            answer_health(door_.models, response);
            return;
        }
        if (path == "/v1/models" && method == "GET" && door_.models.size() > 1) {
            answer_models(door_.models, response);
            return;
        }
        if (path == "/admin" || path.rfind("/admin/", 0) == 0) {
            answer_admin(static_cast<http::ServerRequest&>(request), path, method, response);
            return;
        }
        std::string route_error;
        ModelSupervisor* model = door_.router.route(body, route_error);
        if (!model) {
            send_error(response, errors::model_not_found, route_error);
            return;
        }
        served_model_ = door_.metrics.model_index(model->name());
        served_model_name_ = model->name();
        serve(*model, request, body, response);
    }

    // Served only on a loopback listener (the listener's address, not the client's: a wildcard
    // listener is not loopback, whoever connects to it).
    void answer_admin(http::ServerRequest& request, const std::string& path,
                      const std::string& method, HTTPServerResponse& response) {
        if (!request.serverAddress().host().isLoopback()) {
            send_error(response, errors::admin_forbidden,
                       "the admin API is served only on a loopback listener");
        } else if (path == "/admin/models" && method == "GET") {
            answer_admin_models(door_.models, response);
        } else {
            send_error(response, errors::not_found,
                       "no admin endpoint " + method + " " + path + " (known: GET /admin/models)");
        }
    }

    // Admission, then forwarding. A connection the child refused carried nothing: the child is
    // gone or going, so the request waits for the next one, as if it had come during the restart.
    void serve(ModelSupervisor& model, HTTPServerRequest& request, const std::string& body,
               HTTPServerResponse& response) {
        Admission admission = model.admit();
        for (int attempt = 1;; ++attempt) {
            if (!admission.admitted()) {
                send_refusal(response, model, admission);
                return;
            }
            ForwardResult result = forward(
                request, body, response,
                ForwardJob{model.name(), admission.target, *admission.ticket,
                           door_.upstream_idle_timeout, admission.generation, *door_.upstream});
            cut_by_ = result.cut_by;
            if (!result.child_gone_before_answer) return;
            if (attempt == 2) {
                spdlog::warn("model {}: {} {}: {}", model.name(), request.getMethod(),
                             request.getURI(), result.error);
                send_error(response, errors::upstream_unreachable, result.error);
                return;
            }
            spdlog::info("model {}: {}; waiting for the next child", model.name(), result.error);
            const uint64_t gone = admission.generation;
            admission = Admission{};  // the ticket goes before the wait
            admission = model.admit(gone);
        }
    }

    FrontDoor& door_;
    int served_model_ = -1;  // for the metrics: -1 until a model takes the request
    std::string served_model_name_;
    std::string cut_by_;  // see ForwardResult::cut_by
    uint64_t body_bytes_ = 0;
};

}  // namespace

Poco::Net::HTTPRequestHandler* RequestHandlerFactory::createRequestHandler(
    const Poco::Net::HTTPServerRequest&) {
    return new ProxyRequestHandler(door_);
}

}  // namespace gradatum::proxy
