#include "http_client.hpp"

#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include "raw_http.hpp"

namespace ge_test {

std::string HttpResult::header(const std::string& name) const {
    return detail::find_header(headers, name);
}

HttpResult http(uint16_t port, const std::string& method, const std::string& target,
                const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& headers,
                std::chrono::milliseconds timeout) {
    detail::RawResponse raw(port, method, target, body, headers, timeout);
    HttpResult result;
    if (!raw.read_head(result.status, result.reason, result.headers)) return result;
    if (method == "HEAD") return result;
    bool complete = false;
    while (true) {
        std::string piece = raw.read_body_piece(complete);
        result.body += piece;
        if (complete || piece.empty()) break;
    }
    return result;
}

bool connection_refused(uint16_t port) {
    try {
        Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", port));
        socket.close();
        return false;
    } catch (const Poco::Net::ConnectionRefusedException&) {
        return true;
    } catch (const Poco::Net::ConnectionResetException&) {
        // The listener closed with our SYN still in its backlog: not accepted either.
        return true;
    }
}

}  // namespace ge_test
