#include "proxy/front_door.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>
#include <spdlog/spdlog.h>

#include "gradatum/config_values.hpp"
#include "http/server_request.hpp"
#include "http/server_response.hpp"
#include "logging/logging.hpp"
#include "proxy/body_fields.hpp"
#include "proxy/body_intake.hpp"
#include "proxy/client_hangup.hpp"
#include "proxy/engine_endpoints.hpp"
#include "proxy/forwarder.hpp"
#include "proxy/lingering_close.hpp"
#include "proxy/openai_error.hpp"
#include "proxy/request_log.hpp"
#include "proxy/sse_answer.hpp"
#include "supervisor/fleet.hpp"
#include "supervisor/model_supervisor.hpp"

namespace gradatum::proxy {

namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

struct RefusalAnswer {
    ErrorKind kind;
    std::string message;
    int retry_after_s = 0;
};

// A refusal (the supervisor's or the fleet's) in the OpenAI envelope's terms.
RefusalAnswer refusal_answer(const ModelSupervisor& model, const Admission& admission) {
    const std::string name = "model '" + model.name() + "'";
    const ModelSettings& settings = model.settings();
    switch (admission.refusal) {
        case Refusal::loading:
            return {errors::model_loading, "Loading model", 1};  // llama-server's words
        case Refusal::restart_timeout:
            return {errors::model_restarting,
                    name + " is restarting and was not ready within " +
                        config_values::format_seconds(settings.queue_timeout) + " (queue_timeout)",
                    5};
        case Refusal::too_many_waiting:
            return {errors::too_many_waiting,
                    name + " is restarting and " + std::to_string(settings.max_waiting) +
                        " requests already wait for it (max_waiting)",
                    5};
        case Refusal::failed:
            return {errors::model_failed, name + " has failed: " + admission.failure};
        case Refusal::unreachable:
            return {errors::remote_unreachable, name + ": " + admission.failure, 5};
        case Refusal::not_loaded:
            return {errors::model_not_found, name + " is not available: " + admission.failure};
        case Refusal::queue_full:
        case Refusal::queue_timeout:
            return {errors::model_busy, name + " is busy: " + admission.failure, 1};
        case Refusal::no_room:
            return {errors::model_no_room, name + " is not running: " + admission.failure, 5};
        case Refusal::start_timeout:
            return {errors::model_start_timeout, name + ": " + admission.failure, 5};
        case Refusal::client_gone:
        case Refusal::stopping:
        case Refusal::none:
            break;
    }
    return {errors::shutting_down, "the engine is shutting down", 5};
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
    // The request's line in the metrics and the access log.
    void account(http::ServerRequest& request, http::ServerResponse& response) {
        using Seconds = std::chrono::duration<double>;
        auto now = std::chrono::steady_clock::now();
        AnsweredRequest r;
        r.client = request.connection().client_text();
        r.model = served_model_name_;
        r.model_index = served_model_;
        r.method = request.getMethod();
        r.uri = request.getURI();
        r.status = response.sent() ? static_cast<int>(response.getStatus()) : 0;
        r.seconds = Seconds(now - request.received_at()).count();
        if (response.sent())
            r.first_byte_s = Seconds(response.head_sent_at() - request.received_at()).count();
        r.bytes_in = body_bytes_;
        response.flush_body();
        r.bytes_out = response.body_bytes();
        r.cut_by = cut_by_;
        log_request(door_.metrics, door_.access_log, r);
    }

    void handle(HTTPServerRequest& request, HTTPServerResponse& response) {
        auto& server_request = static_cast<http::ServerRequest&>(request);
        const std::shared_ptr<const Routes> routes = door_.routes.get();
        if (door_.metrics_address && server_request.serverAddress() == *door_.metrics_address) {
            // server.metrics_listen serves the metrics and nothing else.
            const std::string p = request.getURI().substr(0, request.getURI().find('?'));
            if (p == "/metrics" && request.getMethod() == "GET") {
                answer_metrics(routes->raw_models(), door_.metrics, door_.busy_threads(),
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
        const bool admin = path == "/admin" || path.rfind("/admin/", 0) == 0;
        // Before the body is read: an unknown client does not get to upload.
        if (admin) {
            ErrorKind kind{};
            std::string why;
            if (!admin_allowed(server_request, *routes, kind, why)) {
                refuse(request, response, kind, why);
                return;
            }
        } else if ((!health || routes->health_requires_key) && !routes->keys.accepts(request)) {
            refuse(
                request, response, errors::invalid_api_key,
                "missing or wrong API key: send Authorization: Bearer <key> or x-api-key: <key>");
            return;
        }
        strip_client_keys(request);
        std::string body;
        switch (read_body(server_request, door_.max_body_bytes, body)) {
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
            answer_metrics(routes->raw_models(), door_.metrics, door_.busy_threads(),
                           door_.metrics_children, response);
            return;
        }
        ModelSupervisor* pinned = routes->for_listener(server_request.serverAddress());
        if (health) {
            answer_health(pinned ? std::vector<ModelSupervisor*>{pinned} : routes->raw_models(),
                          response);
            return;
        }
        if (path == "/v1/models" && method == "GET") {
            answer_models(*routes, pinned, response);
            return;
        }
        if (admin) {
            answer_admin(AdminContext{*routes, *door_.fleet, door_.drain_timeout, door_.reload},
                         server_request, path, method, response);
            return;
        }
        ModelSupervisor* model = pinned;
        BodyFields fields = scan_body_fields(body);
        std::string route_error;
        const std::string upstream = "/upstream/";
        if (!model && path.rfind(upstream, 0) == 0) {
            // /upstream/<name>/<path>: one model's child as is (its /props, /slots, web UI).
            const std::string rest = request.getURI().substr(upstream.size());
            const size_t end = rest.find_first_of("/?");
            const std::string name = rest.substr(0, end);
            model = routes->router.find(name);
            if (!model) {
                send_error(response, errors::model_not_found,
                           "model '" + name + "' is not configured (in " + path + ")");
                return;
            }
            std::string target = end == std::string::npos ? "/" : rest.substr(end);
            if (target[0] == '?') target = "/" + target;
            request.setURI(target);
        } else if (!model) {
            std::optional<std::string> name = fields.model;
            if (!name && (method == "GET" || method == "HEAD"))
                name = query_model(request.getURI());
            model = routes->router.route(name, route_error);
        }
        if (!model) {
            send_error(response, errors::model_not_found, route_error);
            return;
        }
        served_model_ = door_.metrics.model_index(model->name());
        served_model_name_ = model->name();
        serve(*model, request, body, fields.stream, response);
    }

    // A streaming request that waits for its model to load gets its answer's head at once and
    // an SSE comment every few seconds, so that clients and proxies do not time out and a
    // person sees progress. False when the client is gone.
    bool tell_waiting(ModelSupervisor& model, std::chrono::milliseconds waited,
                      HTTPServerResponse& response) {
        if (!waiting_out_) {
            response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
            response.setContentType("text/event-stream");
            response.set("Cache-Control", "no-cache");
            response.setChunkedTransferEncoding(true);
            waiting_out_ = &response.send();
        }
        const bool loading = model.loaded() && model.state() != ModelState::ready;
        std::ostream& out = *waiting_out_;
        out << ": " << (loading ? "loading " : "waiting for ") << model.name() << ' '
            << std::chrono::duration_cast<std::chrono::seconds>(waited).count() << " s\n\n";
        out.flush();
        return out.good();
    }

    // The fleet's admission (waiting for a load or room), then forwarding. A child that went
    // away before answering got nothing to the client: the request waits for the next child, as
    // if it had come during the restart, and is sent once more.
    void serve(ModelSupervisor& model, HTTPServerRequest& request, const std::string& body,
               bool stream, HTTPServerResponse& response) {
        // Told every 2 s while the request waits: false (the client is gone) ends the wait.
        Fleet::Grant grant = door_.fleet->acquire(model, [&](std::chrono::milliseconds waited) {
            return stream ? tell_waiting(model, waited, response) : !client_hung_up(request);
        });
        if (grant.admission.refusal == Refusal::not_loaded) {
            // Its model was changed by a reload while the request waited: the new one takes it.
            ModelSupervisor* now = door_.routes.get()->router.find(model.name());
            if (now && now != &model) {
                grant = Fleet::Grant{};
                serve(*now, request, body, stream, response);
                return;
            }
        }
        const bool sse_head_sent = response.sent();
        for (int attempt = 1;; ++attempt) {
            const Admission& admission = grant.admission;
            if (!admission.admitted()) {
                if (admission.refusal == Refusal::client_gone) {
                    cut_by_ = "client";
                    return;
                }
                RefusalAnswer answer = refusal_answer(model, admission);
                if (sse_head_sent) {
                    end_event_stream(request, response,
                                     sse_error_event(answer.kind, answer.message));
                } else {
                    send_error(response, answer.kind, answer.message, answer.retry_after_s);
                }
                return;
            }
            ForwardJob job{model.name(),         admission.target,
                           *admission.ticket,    door_.upstream_idle_timeout,
                           admission.generation, *door_.upstream};
            job.sse_head_sent = sse_head_sent;
            job.child_pid = admission.pid;
            ForwardResult result = forward(request, body, response, job);
            cut_by_ = result.cut_by;
            if (!result.child_gone_before_answer) return;
            if (attempt == 2) {
                spdlog::warn("model {}: {} {}: {}", model.name(), request.getMethod(),
                             request.getURI(), result.error);
                if (sse_head_sent) {
                    end_event_stream(request, response,
                                     sse_error_event(errors::upstream_unreachable, result.error));
                } else {
                    send_error(response, errors::upstream_unreachable, result.error);
                }
                return;
            }
            spdlog::info("model {}: {}; waiting for the next child to send it again", model.name(),
                         result.error);
            const uint64_t gone = admission.generation;
            grant.admission = Admission{};  // the ticket goes before the wait
            grant.admission = model.admit(gone);
        }
    }

    FrontDoor& door_;
    int served_model_ = -1;  // for the metrics: -1 until a model takes the request
    std::string served_model_name_;
    std::string cut_by_;                   // see ForwardResult::cut_by
    std::ostream* waiting_out_ = nullptr;  // the body, once tell_waiting() sent the head
    uint64_t body_bytes_ = 0;
};

}  // namespace

Poco::Net::HTTPRequestHandler* RequestHandlerFactory::createRequestHandler(
    const Poco::Net::HTTPServerRequest&) {
    return new ProxyRequestHandler(door_);
}

}  // namespace gradatum::proxy
