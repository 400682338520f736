// server.listen: a comma-separated list of address:port, checked fail-closed. Only specific
// addresses are accepted: no wildcard (unless allowed), broadcast or multicast address, and no
// host name that does not resolve to specific addresses.
#pragma once

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace gradatum::config {

// What a numeric address is, as far as listening on it goes.
enum class AddressKind { specific, wildcard, broadcast, multicast };

// `numeric`: an IPv4 dotted quad or an IPv6 address (no brackets, an optional %scope).
// `subnet_broadcasts`: the broadcast addresses of this machine's IPv4 interfaces.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged by their IPv4 address.
// Throws std::invalid_argument if `numeric` is not a numeric address.
AddressKind classify_address(const std::string& numeric,
                             const std::set<std::string>& subnet_broadcasts);

// The broadcast addresses of this machine's IPv4 interfaces that have one (getifaddrs), dotted.
std::set<std::string> interface_broadcasts();

// A refusal of server.listen; what() names the address, never the whole key or file (the
// caller adds "file: server.listen: ").
class ListenSpecError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct ListenOptions {
    bool allow_wildcard = false;
    std::set<std::string> subnet_broadcasts;  // see interface_broadcasts()
};

// Parses "127.0.0.1:8080, [::1]:8080, host.lan:8080, https://192.168.1.20:8443" (https://
// marks a TLS listener). Each entry is an IPv4 dotted quad, a
// bracketed IPv6 address, or a host name, then ':' and a port from 0 to 65535. A host name is
// resolved now (getaddrinfo) and gives one listener per address it resolves to, each checked
// like a literal. The result holds numeric hosts (IPv6 in canonical form), in the order written,
// without duplicates: a duplicate is an error, as is an empty list or entry.
// Throws ListenSpecError.
std::vector<ListenAddress> parse_listen_list(const std::string& text, const ListenOptions& options);

// A key that holds one listener (server.metrics_listen, models.<name>.listen): the same rules,
// and exactly one address (a host name that resolves to two is refused). Throws ListenSpecError.
ListenAddress parse_one_listen(const std::string& text, const ListenOptions& options);

// `wildcard` takes `other`'s port: it is a wildcard on the same non-zero port, and its family
// covers `other` (0.0.0.0: IPv4 and IPv4-mapped addresses; ::, dual-stack: every address), so
// `other` could not bind beside it.
bool takes_port_of(const ListenAddress& wildcard, const ListenAddress& other);

// Why listener `a` cannot be opened beside listener `b` of key `b_key` (a message to follow
// a's key): the same address and port, or a wildcard that takes the other's port; "" when they
// can. Port 0 (any free port) never collides.
std::string listen_collision(const ListenAddress& a, const ListenAddress& b,
                             const std::string& b_key);

// "127.0.0.1:8080", "[::1]:8080".
std::string format_listen(const ListenAddress& address);

}  // namespace gradatum::config
