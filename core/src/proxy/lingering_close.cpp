#include "proxy/lingering_close.hpp"

#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include <chrono>

#include "http/server_request.hpp"

namespace gradatum::proxy {

namespace {

constexpr auto kLingerFor = std::chrono::seconds(3);
const Poco::Timespan kLingerReadTimeout(0, 200 * 1000);

void discard_rest(Poco::Net::StreamSocket& client) {
    try {
        client.shutdownSend();
        client.setReceiveTimeout(kLingerReadTimeout);
        auto deadline = std::chrono::steady_clock::now() + kLingerFor;
        char buffer[16384];
        while (std::chrono::steady_clock::now() < deadline &&
               client.receiveBytes(buffer, sizeof buffer) > 0) {
        }
    } catch (const Poco::Exception&) {
    }
}

}  // namespace

void refuse(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
            const ErrorKind& kind, const std::string& message, int retry_after_s) {
    response.setKeepAlive(false);
    send_error(response, kind, message, retry_after_s);
    discard_rest(static_cast<http::ServerRequest&>(request).socket());
}

}  // namespace gradatum::proxy
