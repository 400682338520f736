#include "proxy/admin_api.hpp"

#include <Poco/URI.h>
#include <nlohmann/json.hpp>

#include "proxy/engine_endpoints.hpp"
#include "supervisor/fleet.hpp"
#include "supervisor/model_supervisor.hpp"

namespace gradatum::proxy {

namespace {

constexpr size_t kDefaultLogLines = 100;
constexpr size_t kMaxLogLines = 2000;

nlohmann::json model_json(const ModelSupervisor& model, const Fleet& fleet) {
    ModelStatus s = model.status();
    return {{"id", model.name()},
            {"aliases", model.settings().aliases},
            {"state", to_string(s.state)},
            {"state_reason", s.reason},
            {"loaded", s.loaded},
            {"autostart", model.settings().autostart},
            {"pid", s.pid},
            {"port", s.port},
            {"remote", s.remote.empty() ? nlohmann::json() : nlohmann::json(s.remote)},
            {"uptime_s", static_cast<double>(s.uptime_ms) / 1000},
            {"starts", s.starts},
            {"restarts", s.restarts},
            {"ready_count", s.ready_count},
            {"last_exit", s.last_exit},
            {"in_flight", s.in_flight},
            {"waiting", s.waiting},
            {"queued", fleet.queued(model)}};
}

size_t lines_wanted(const std::string& uri) {
    for (const auto& [name, value] : Poco::URI(uri).getQueryParameters()) {
        if (name != "lines") continue;
        try {
            return std::min(static_cast<size_t>(std::stoul(value)), kMaxLogLines);
        } catch (const std::exception&) {
            return kDefaultLogLines;
        }
    }
    return kDefaultLogLines;
}

const char* kKnown =
    "GET /admin/models, POST /admin/models/<name>/start|stop|restart, "
    "GET /admin/models/<name>/log?lines=N, POST /admin/reload";

// POST /admin/models/<name>/<action> and GET /admin/models/<name>/log.
void answer_model(const AdminContext& c, ModelSupervisor& model, const std::string& action,
                  const std::string& method, const std::string& uri,
                  Poco::Net::HTTPServerResponse& response) {
    if (action == "log" && method == "GET") {
        std::string text;
        for (const auto& line : model.log_tail(lines_wanted(uri))) text += line + "\n";
        response.setContentType("text/plain; charset=utf-8");
        response.setContentLength64(static_cast<Poco::Int64>(text.size()));
        response.send() << text;
        return;
    }
    if (method != "POST" || (action != "start" && action != "stop" && action != "restart")) {
        send_error(response, errors::not_found,
                   "no admin endpoint " + method + " " + uri + " (known: " + kKnown + ")");
        return;
    }
    std::string error = action == "start"  ? c.fleet.start_model(model)
                        : action == "stop" ? c.fleet.stop_model(model, c.drain_timeout)
                                           : c.fleet.restart_model(model, c.drain_timeout);
    if (!error.empty()) {
        send_error(response, errors::conflict,
                   "cannot " + action + " model '" + model.name() + "': " + error);
        return;
    }
    // start and restart return once the child is spawned; GET /admin/models says when it is ready.
    if (action != "stop") response.setStatus(Poco::Net::HTTPResponse::HTTP_ACCEPTED);
    send_json(response, model_json(model, c.fleet));
}

}  // namespace

bool admin_allowed(const http::ServerRequest& request, const Routes& routes, ErrorKind& kind,
                   std::string& why) {
    if (routes.admin_keys.enabled()) {
        if (routes.admin_keys.accepts(request)) return true;
        kind = errors::invalid_api_key;
        why =
            "the admin API needs an admin key (server.admin_keys): send Authorization: Bearer "
            "<key> or x-api-key: <key>";
        return false;
    }
    // The listener's address, not the client's: a wildcard listener is not loopback, whoever
    // connects to it.
    if (!request.serverAddress().host().isLoopback()) {
        kind = errors::admin_forbidden;
        why = "the admin API is served only on a loopback listener unless server.admin_keys is set";
        return false;
    }
    if (routes.keys.enabled() && !routes.keys.accepts(request)) {
        kind = errors::invalid_api_key;
        why = "missing or wrong API key: send Authorization: Bearer <key> or x-api-key: <key>";
        return false;
    }
    return true;
}

void answer_admin(const AdminContext& c, http::ServerRequest& request, const std::string& path,
                  const std::string& method, Poco::Net::HTTPServerResponse& response) {
    if (path == "/admin/models" && method == "GET") {
        nlohmann::json data = nlohmann::json::array();
        for (const auto& model : c.routes.models) data.push_back(model_json(*model, c.fleet));
        send_json(response, {{"object", "list"}, {"data", data}, {"swaps", c.fleet.swaps()}});
        return;
    }
    if (path == "/admin/reload" && method == "POST") {
        ReloadResult result = c.reload();
        if (!result.ok) response.setStatus(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST);
        send_json(response,
                  {{"ok", result.ok}, {"errors", result.errors}, {"changes", result.changes}});
        return;
    }
    const std::string prefix = "/admin/models/";
    if (path.rfind(prefix, 0) == 0) {
        const std::string rest = path.substr(prefix.size());
        const size_t slash = rest.find('/');
        if (slash != std::string::npos && rest.find('/', slash + 1) == std::string::npos) {
            const std::string name = rest.substr(0, slash);
            ModelSupervisor* model = c.routes.router.find(name);
            if (!model) {
                send_error(response, errors::model_not_found,
                           "model '" + name + "' is not configured");
                return;
            }
            answer_model(c, *model, rest.substr(slash + 1), method, request.getURI(), response);
            return;
        }
    }
    send_error(response, errors::not_found,
               "no admin endpoint " + method + " " + path + " (known: " + kKnown + ")");
}

}  // namespace gradatum::proxy
