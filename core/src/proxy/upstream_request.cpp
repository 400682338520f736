#include "proxy/upstream_request.hpp"

#include "proxy/client_keys.hpp"
#include "proxy/header_rules.hpp"

namespace gradatum::proxy {

namespace {

constexpr std::string_view kVia = "gradatum-engine";

void append_header(std::string& head, std::string_view name, std::string_view value) {
    head.append(name.data(), name.size());
    head += ": ";
    head.append(value.data(), value.size());
    head += "\r\n";
}

}  // namespace

std::string upstream_request_head(const OutgoingRequest& request, const HeaderFields& fields,
                                  const Target& target, bool keep_alive,
                                  std::string_view client_host) {
    std::string head;
    head.reserve(512);
    head.append(request.method);
    head += ' ';
    head.append(request.uri);
    head += " HTTP/1.1\r\nHost: ";
    // An IPv6 literal (a remote target's) is bracketed, as in a URL.
    const bool v6 = target.host.find(':') != std::string::npos;
    if (v6) head += '[';
    head += target.host;
    if (v6) head += ']';
    head += ':';
    head += std::to_string(target.port);
    head += "\r\n";
    ConnectionTokens listed;
    for (const auto& [name, value] : fields) {
        if (iequals(name, "connection")) listed.add_list(value);
    }
    std::string forwarded_for, via;
    for (const auto& [name, value] : fields) {
        if (is_dropped(name, listed)) continue;
        // A client's key is never forwarded: the child gets its own secret (the target's).
        if (ClientKeys::is_key_header(name)) continue;
        if (iequals(name, "x-forwarded-for")) {
            forwarded_for.append(value).append(", ");
            continue;
        }
        if (iequals(name, "via")) {
            via.append(value).append(", ");
            continue;
        }
        if (iequals(name, "x-forwarded-proto")) continue;  // the engine says what it received
        bool replaced = false;
        for (const auto& own : target.headers) replaced = replaced || iequals(own.first, name);
        if (replaced) continue;  // the target's own value (e.g. the child's API key) wins
        append_header(head, name, value);
    }
    for (const auto& [name, value] : target.headers) append_header(head, name, value);
    forwarded_for.append(client_host);
    append_header(head, "X-Forwarded-For", forwarded_for);
    head += request.secure ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n";
    via += request.minor_version == 0 ? "1.0 " : "1.1 ";
    via += kVia;
    append_header(head, "Via", via);
    if (request.send_length) {
        head += "Content-Length: ";
        head += std::to_string(request.body_size);
        head += "\r\n";
    }
    if (!keep_alive) head += "Connection: close\r\n";
    head += "\r\n";
    return head;
}

}  // namespace gradatum::proxy
