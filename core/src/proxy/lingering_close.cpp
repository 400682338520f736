#include "proxy/lingering_close.hpp"

#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include <chrono>

#include "proxy/openai_error.hpp"

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
            int status, const std::string& type, const std::string& message, int retry_after_s) {
    response.setKeepAlive(false);
    send_error(response, status, type, message, retry_after_s);
    discard_rest(static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket());
}

}  // namespace gradatum::proxy
