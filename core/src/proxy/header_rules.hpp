// Which headers cross the proxy. Hop-by-hop headers describe one connection, not the message, so
// they are dropped in both directions (RFC 9110 7.6.1); framing is set anew by the proxy.
#pragma once

#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/MessageHeader.h>

#include <string>
#include <string_view>
#include <vector>

namespace gradatum::proxy {

// ASCII case-insensitive equality, without allocating.
bool iequals(std::string_view a, std::string_view b);
// True if `s` starts with `prefix`, ignoring ASCII case.
bool istarts_with(std::string_view s, std::string_view prefix);

bool is_hop_by_hop(std::string_view name);

// The header names a message's Connection header lists (they are hop-by-hop too).
class ConnectionTokens {
  public:
    void add_list(std::string_view value);  // "keep-alive, X-Foo"
    bool contains(std::string_view name) const;
    bool empty() const { return tokens_.empty(); }

  private:
    std::vector<std::string_view> tokens_;  // views into the header values, which must outlive it
};

// Headers that never pass as they are: hop-by-hop ones, those the Connection header names, and
// Host and Content-Length (the proxy sets both itself).
bool is_dropped(std::string_view name, const ConnectionTokens& listed);

// Copies end-to-end headers from `from` to `to`, keeping repeated headers (add, not set).
// Also drops the headers that `from`'s Connection header names, and Host and Content-Length.
void copy_end_to_end_headers(const Poco::Net::MessageHeader& from, Poco::Net::MessageHeader& to);

}  // namespace gradatum::proxy
