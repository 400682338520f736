// Has the client of a request closed its side of the connection? For a request that waits (a
// model's load, room under max_running) without sending anything: a client that left must not
// keep a swap or a load coming for nobody.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>

namespace gradatum::proxy {

// True when the peer's FIN (or an error) arrived; bytes of a pipelined next request do not count.
// False for a request that is not the engine's own http::ServerRequest.
bool client_hung_up(Poco::Net::HTTPServerRequest& request);

// The same for a plain connection's descriptor, by a peek: a read end of stream (or an error).
bool client_closed(int fd);

}  // namespace gradatum::proxy
