// The admin API under /admin/: the models' state, start/stop/restart, a child's log tail, and
// reload. Guarded by server.admin_keys when set (on any listener); without them it is served on
// loopback listeners only.
#pragma once

#include <Poco/Net/HTTPServerResponse.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "http/server_request.hpp"
#include "proxy/openai_error.hpp"
#include "proxy/routes.hpp"

namespace gradatum {
class Fleet;
}

namespace gradatum::proxy {

// What a reload did: the config's problems when it was refused (nothing changed then), or the
// changes it made.
struct ReloadResult {
    bool ok = false;
    std::vector<std::string> errors;
    std::vector<std::string> changes;
};

struct AdminContext {
    const Routes& routes;
    Fleet& fleet;
    std::chrono::milliseconds drain_timeout;  // for stop and restart
    const std::function<ReloadResult()>& reload;
};

// Whether the request may use the admin API; if not, `kind` and `why` say what to answer.
bool admin_allowed(const http::ServerRequest& request, const Routes& routes, ErrorKind& kind,
                   std::string& why);

void answer_admin(const AdminContext& context, http::ServerRequest& request,
                  const std::string& path, const std::string& method,
                  Poco::Net::HTTPServerResponse& response);

}  // namespace gradatum::proxy
