// The Date header's value for a response sent now.
#pragma once

#include <string>

namespace gradatum::http {

// Formatted once a second per thread rather than per response.
const std::string& http_date_now();

}  // namespace gradatum::http
