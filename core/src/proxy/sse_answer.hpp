// The end of a response whose SSE head the engine sent before the child's answer was known (a
// streaming request that waited for its model to start: ForwardJob::sse_head_sent). The client
// has a 200 event stream already, so whatever comes next is an event in that body.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <string>
#include <string_view>

namespace gradatum::proxy {

// The one event that carries a child's answer other than an event stream: its body when that is
// a JSON error object (put on one line), else an OpenAI error saying what the child answered.
std::string sse_event_for_answer(const std::string& model, int status, std::string_view reason,
                                 std::string_view content_type, std::string_view body);

// `event` as the last bytes of such a body: one chunk then the last chunk, or the event alone
// (a body that the close ends: HTTP/1.0).
std::string final_event_bytes(const std::string& event, bool chunked);

// Ends the body of `response` (whose head, and maybe comments, went out through send()) with
// `event`, written to the client at once; finish() adds nothing after it. False if the client
// is gone (the connection is then not kept).
bool end_event_stream(Poco::Net::HTTPServerRequest& request,
                      Poco::Net::HTTPServerResponse& response, const std::string& event);

}  // namespace gradatum::proxy
