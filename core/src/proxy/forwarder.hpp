// Forwards one admitted request to its model's child and streams the answer back.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "plugin/backend_instance.hpp"
#include "proxy/upstream_pool.hpp"
#include "supervisor/in_flight.hpp"

namespace gradatum::proxy {

struct ForwardJob {
    const std::string& model;
    const Target& target;
    InFlight::Ticket& ticket;
    std::chrono::milliseconds idle_timeout;  // allowed silence between upstream bytes
    uint64_t generation;                     // of the child the request was admitted to
    UpstreamPool& upstream;                  // persistent connections, timeouts
    // The client already has a 200 text/event-stream head (it waited for a load): relay only
    // the body, and turn a non-200 answer into one SSE error event.
    bool sse_head_sent = false;
};

// `connect_failed`: the child refused the connection and nothing was answered yet (the caller
// may retry or answer). Otherwise the client has its answer, or an error in its place.
struct ForwardResult {
    bool child_gone_before_answer = false;
    std::string error;
    // The answer was cut before its end, and by whom: "client" (it left), "backend" (the child
    // failed or closed early), "engine" (a stop). Empty when the answer was whole.
    std::string cut_by;
};

ForwardResult forward(Poco::Net::HTTPServerRequest& request, const std::string& body,
                      Poco::Net::HTTPServerResponse& response, const ForwardJob& job);

// The head of the request sent to the child (exposed for tests): end-to-end headers of the
// client's request, the target's own headers in place of the client's of the same name,
// X-Forwarded-For / X-Forwarded-Proto / Via, and a Content-Length for the body.
std::string upstream_request_head(const Poco::Net::HTTPServerRequest& request,
                                  const std::string& body, const Target& target, bool keep_alive);

}  // namespace gradatum::proxy
