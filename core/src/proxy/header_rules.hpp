// Which headers cross the proxy. Hop-by-hop headers describe one connection, not the message, so
// they are dropped in both directions (RFC 9110 7.6.1); framing is set anew by the proxy.
#pragma once

#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/MessageHeader.h>

#include <string>

namespace gradatum::proxy {

bool is_hop_by_hop(const std::string& name);

// Copies end-to-end headers from `from` to `to`, keeping repeated headers (add, not set).
// Also drops the headers that `from`'s Connection header names, and Host and Content-Length.
void copy_end_to_end_headers(const Poco::Net::MessageHeader& from, Poco::Net::MessageHeader& to);

}  // namespace gradatum::proxy
