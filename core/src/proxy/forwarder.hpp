// Forwards one admitted request to its model's child and streams the answer back.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <sys/types.h>

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
    // The engine has sent the client the head of an event stream (200, text/event-stream,
    // chunked unless HTTP/1.0) through response.send(), maybe with SSE comments, while the
    // request waited for its model to start. The forwarder then writes no head of its own: a 200
    // event stream from the child goes on as the rest of the body; any other answer of the
    // child, and any error of the engine's, becomes one last `data: {...}` event ending it.
    bool sse_head_sent = false;
    // The child's process (0: none, e.g. a remote backend): a connection it closed without
    // answering is taken for its death when the process is exiting (see child_gone.hpp).
    pid_t child_pid = 0;
};

// Unless child_gone_before_answer, the client has its answer, or an error in its place.
struct ForwardResult {
    // The child is gone and nothing of an answer went to the client (with sse_head_sent: nothing
    // after the engine's own head and comments): it refused the connection, or reset a new one
    // with the request unread, or closed after the request was sent and before the first byte of
    // its response head while its port stopped taking connections (it died, e.g. killed while
    // generating a non-streaming answer, whose head llama-server sends when it is complete). The
    // caller may send the request once more, to the next child (ModelSupervisor::admit(
    // after_generation)), or answer `error`. Not set after a timeout: a slow child is not gone.
    bool child_gone_before_answer = false;
    // What went wrong: why the child is taken for gone, or (sse_head_sent) the error that ended
    // the stream. Empty otherwise.
    std::string error;
    // The answer was cut before its end, and by whom: "client" (it left), "backend" (the child
    // failed or closed early), "engine" (a stop). Empty when the answer was whole.
    std::string cut_by;
};

ForwardResult forward(Poco::Net::HTTPServerRequest& request, const std::string& body,
                      Poco::Net::HTTPServerResponse& response, const ForwardJob& job);

// The head of the request sent to the child (exposed for tests): end-to-end headers of the
// client's request, the target's own headers in place of the client's of the same name,
// X-Forwarded-For (ending with `client_host`, the client's address) / X-Forwarded-Proto / Via,
// and a Content-Length for the body.
std::string upstream_request_head(const Poco::Net::HTTPServerRequest& request,
                                  const std::string& body, const Target& target, bool keep_alive,
                                  const std::string& client_host);

}  // namespace gradatum::proxy
