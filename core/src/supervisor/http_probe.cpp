#include "supervisor/http_probe.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

namespace gradatum {

ProbeAnswer http_probe(const std::string& host, uint16_t port, const ProbeRequest& probe,
                       std::chrono::milliseconds timeout) {
    ProbeAnswer answer;
    try {
        Poco::Net::HTTPClientSession session(host, port);
        Poco::Timespan span(static_cast<long>(timeout.count() / 1000),
                            static_cast<long>((timeout.count() % 1000) * 1000));
        session.setTimeout(span, span, span);
        Poco::Net::HTTPRequest request(probe.method, probe.path, Poco::Net::HTTPMessage::HTTP_1_1);
        for (const auto& [name, value] : probe.headers) request.set(name, value);
        if (!probe.content_type.empty()) request.setContentType(probe.content_type);
        if (!probe.body.empty()) {
            request.setContentLength(static_cast<std::streamsize>(probe.body.size()));
        }
        std::ostream& out = session.sendRequest(request);
        if (!probe.body.empty()) out.write(probe.body.data(), probe.body.size());
        Poco::Net::HTTPResponse response;
        std::istream& body = session.receiveResponse(response);
        Poco::StreamCopier::copyToString(body, answer.body);
        answer.status = static_cast<int>(response.getStatus());
    } catch (const Poco::Exception& e) {
        answer.status = 0;
        answer.error = e.displayText();
    } catch (const std::exception& e) {
        answer.status = 0;
        answer.error = e.what();
    }
    return answer;
}

}  // namespace gradatum
