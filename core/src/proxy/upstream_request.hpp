// The head of a request as the child gets it: end-to-end headers of the client's request (its
// API key never among them), the target's own headers in place of the client's of the same
// name, X-Forwarded-For / X-Forwarded-Proto / Via, and a Content-Length for the body.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend_types.hpp"

namespace gradatum::proxy {

struct OutgoingRequest {
    std::string_view method;
    std::string_view uri;  // origin-form
    int minor_version = 1;
    bool secure = false;  // the client came over TLS
    size_t body_size = 0;
    bool send_length = false;  // a Content-Length goes with it (a body, or the client sent one)
};

using HeaderFields = std::vector<std::pair<std::string_view, std::string_view>>;

// `client_host`: the client's address, the last of X-Forwarded-For.
std::string upstream_request_head(const OutgoingRequest& request, const HeaderFields& fields,
                                  const Target& target, bool keep_alive,
                                  std::string_view client_host);

}  // namespace gradatum::proxy
