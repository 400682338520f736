#include "config/listen_addresses.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "config/value_parsers.hpp"
#include "gradatum/config_values.hpp"

namespace gradatum::config {

namespace {

std::string ntop(int family, const void* address) {
    char text[INET6_ADDRSTRLEN] = {};
    if (!inet_ntop(family, address, text, sizeof text)) return "";
    return text;
}

AddressKind classify_v4(const in_addr& address, const std::set<std::string>& subnet_broadcasts) {
    uint32_t host_order = ntohl(address.s_addr);
    if (host_order == INADDR_ANY) return AddressKind::wildcard;
    if (host_order == INADDR_BROADCAST) return AddressKind::broadcast;
    if ((host_order >> 28) == 0xe) return AddressKind::multicast;  // 224.0.0.0/4
    if (subnet_broadcasts.count(ntop(AF_INET, &address))) return AddressKind::broadcast;
    return AddressKind::specific;
}

const char* describe(AddressKind kind) {
    switch (kind) {
        case AddressKind::wildcard:
            return "a wildcard address (every interface of this machine)";
        case AddressKind::broadcast:
            return "a broadcast address";
        case AddressKind::multicast:
            return "a multicast address";
        case AddressKind::specific:
            break;
    }
    return "a specific address";
}

bool dotted_quad(const std::string& host) {
    return !host.empty() && std::all_of(host.begin(), host.end(),
                                        [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// One resolved or literal address, as a numeric host string (IPv6 canonical, with %scope).
struct Resolved {
    std::string host;
    int family = AF_UNSPEC;
};

// The canonical numeric form of a sockaddr, with an IPv6 scope if it has one.
Resolved numeric(const sockaddr* address) {
    char text[NI_MAXHOST] = {};
    socklen_t length = address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (getnameinfo(address, length, text, sizeof text, nullptr, 0, NI_NUMERICHOST) != 0) {
        return {};
    }
    return {text, address->sa_family};
}

// getaddrinfo for one host; `numeric_only`: a literal, never a name lookup.
std::vector<Resolved> lookup(const std::string& host, bool numeric_only, std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    // AI_ADDRCONFIG: no IPv6 addresses for a name on a machine without IPv6 (and vice versa).
    hints.ai_flags = numeric_only ? AI_NUMERICHOST : AI_ADDRCONFIG;
    addrinfo* list = nullptr;
    int status = getaddrinfo(host.c_str(), nullptr, &hints, &list);
    if (status != 0) {
        error = status == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(status);
        return {};
    }
    std::vector<Resolved> out;
    for (addrinfo* a = list; a; a = a->ai_next) {
        if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
        Resolved r = numeric(a->ai_addr);
        if (r.host.empty()) continue;
        bool seen = std::any_of(out.begin(), out.end(),
                                [&](const Resolved& o) { return o.host == r.host; });
        if (!seen) out.push_back(r);
    }
    freeaddrinfo(list);
    if (out.empty()) error = "no IPv4 or IPv6 address";
    return out;
}

}  // namespace

AddressKind classify_address(const std::string& numeric_host,
                             const std::set<std::string>& subnet_broadcasts) {
    in_addr v4{};
    if (inet_pton(AF_INET, numeric_host.c_str(), &v4) == 1) {
        return classify_v4(v4, subnet_broadcasts);
    }
    std::string without_scope = numeric_host.substr(0, numeric_host.find('%'));
    in6_addr v6{};
    if (inet_pton(AF_INET6, without_scope.c_str(), &v6) != 1) {
        throw std::invalid_argument("not a numeric address: " + numeric_host);
    }
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
        std::memcpy(&v4.s_addr, v6.s6_addr + 12, 4);
        return classify_v4(v4, subnet_broadcasts);
    }
    if (IN6_IS_ADDR_UNSPECIFIED(&v6)) return AddressKind::wildcard;
    if (IN6_IS_ADDR_MULTICAST(&v6)) return AddressKind::multicast;
    return AddressKind::specific;
}

std::set<std::string> interface_broadcasts() {
    std::set<std::string> out;
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return out;
    for (ifaddrs* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        if (!(i->ifa_flags & IFF_BROADCAST) || !i->ifa_broadaddr) continue;
        if (i->ifa_broadaddr->sa_family != AF_INET) continue;
        const auto* b = reinterpret_cast<const sockaddr_in*>(i->ifa_broadaddr);
        std::string text = ntop(AF_INET, &b->sin_addr);
        if (!text.empty() && text != "0.0.0.0") out.insert(text);
    }
    freeifaddrs(list);
    return out;
}

std::string format_listen(const ListenAddress& address) {
    bool v6 = address.host.find(':') != std::string::npos;
    return std::string(address.tls ? "https://" : "") +
           (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

std::vector<ListenAddress> parse_listen_list(const std::string& text,
                                             const ListenOptions& options) {
    std::vector<ListenAddress> out;
    size_t start = 0;
    bool any = false;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        std::string entry(config_values::trim(std::string_view(text).substr(start, comma - start)));
        start = comma + 1;
        if (entry.empty()) {
            if (!any && start > text.size()) throw ListenSpecError("expected host:port, got ''");
            throw ListenSpecError("empty entry in '" + text + "' (a stray comma?)");
        }
        any = true;
        // "https://" makes a TLS listener; "http://" is allowed for symmetry.
        bool tls = false;
        if (entry.rfind("https://", 0) == 0) {
            tls = true;
            entry.erase(0, 8);
        } else if (entry.rfind("http://", 0) == 0) {
            entry.erase(0, 7);
        } else if (entry.find("://") != std::string::npos) {
            throw ListenSpecError("'" + entry + "': the only schemes are http:// and https://");
        }
        auto parsed = parse_listen(entry);
        if (!parsed) throw ListenSpecError("expected host:port, got '" + entry + "'");
        const bool bracketed = entry.front() == '[';
        const std::string& host = parsed->host;

        std::vector<Resolved> addresses;
        std::string error;
        bool is_name = false;
        if (bracketed) {
            addresses = lookup(host, /*numeric_only=*/true, error);
            if (addresses.empty() || addresses.front().family != AF_INET6) {
                throw ListenSpecError("'" + entry +
                                      "': only an IPv6 address goes in brackets, e.g. [::1]:8080");
            }
        } else if (host.find_first_of(":[]") != std::string::npos) {
            throw ListenSpecError("'" + entry +
                                  "': an IPv6 address goes in brackets, e.g. [::1]:8080");
        } else if (dotted_quad(host)) {
            in_addr v4{};
            if (inet_pton(AF_INET, host.c_str(), &v4) != 1) {
                throw ListenSpecError("'" + entry + "': not an IPv4 address");
            }
            addresses.push_back({host, AF_INET});
        } else {
            is_name = true;
            addresses = lookup(host, /*numeric_only=*/false, error);
            if (addresses.empty()) {
                throw ListenSpecError("'" + entry + "': cannot resolve host name '" + host + "' (" +
                                      error + ")");
            }
        }

        for (const auto& address : addresses) {
            const ListenAddress listen{address.host, parsed->port, tls};
            // A literal is named as written; a name with the address it resolves to.
            const std::string shown =
                is_name ? format_listen(listen) + " ('" + entry + "' resolves to it)" : entry;
            AddressKind kind = classify_address(address.host, options.subnet_broadcasts);
            if (kind == AddressKind::wildcard && !options.allow_wildcard) {
                throw ListenSpecError(
                    shown + " is " + describe(kind) +
                    "; list the specific addresses to listen on, or set server.allow_wildcard = "
                    "true to accept every interface");
            }
            if (kind == AddressKind::broadcast || kind == AddressKind::multicast) {
                throw ListenSpecError(shown + " is " + describe(kind) + ", not one to listen on");
            }
            for (const auto& earlier : out) {
                if (earlier.host == listen.host && earlier.port == listen.port) {
                    throw ListenSpecError(shown + " is listed more than once");
                }
            }
            out.push_back(listen);
        }
    }
    // A wildcard takes its port on every address of its family (:: on both, dual-stack), so
    // another listener on that port could not bind.
    for (const auto& a : out) {
        for (const auto& b : out) {
            if (&a == &b || !takes_port_of(a, b)) continue;
            throw ListenSpecError(format_listen(b) + " overlaps the wildcard " + format_listen(a) +
                                  ", which takes port " + std::to_string(a.port) +
                                  " on every address");
        }
    }
    return out;
}

ListenAddress parse_one_listen(const std::string& text, const ListenOptions& options) {
    auto list = parse_listen_list(text, options);
    if (list.size() != 1) throw ListenSpecError("expected one address:port, got '" + text + "'");
    return list.front();
}

bool takes_port_of(const ListenAddress& wildcard, const ListenAddress& other) {
    if (wildcard.port == 0 || other.port != wildcard.port) return false;
    if (classify_address(wildcard.host, {}) != AddressKind::wildcard) return false;
    const bool dual_stack = wildcard.host == "::";
    const bool other_v4 =
        other.host.find(':') == std::string::npos || other.host.rfind("::ffff:", 0) == 0;
    return dual_stack || other_v4;
}

std::string listen_collision(const ListenAddress& a, const ListenAddress& b,
                             const std::string& b_key) {
    const std::string port = std::to_string(a.port);
    if (a.port != 0 && a.host == b.host && a.port == b.port) {
        return format_listen(a) + " is also in " + b_key;
    }
    if (takes_port_of(b, a)) {
        return format_listen(a) + " overlaps the wildcard " + format_listen(b) + " of " + b_key +
               ", which takes port " + port + " on every address";
    }
    if (takes_port_of(a, b)) {
        return format_listen(a) + " is a wildcard, which takes port " + port +
               " on every address: it overlaps " + format_listen(b) + " of " + b_key;
    }
    return "";
}

}  // namespace gradatum::config
