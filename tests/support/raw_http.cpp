#include "raw_http.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/String.h>

#include <sstream>

namespace ge_test::detail {

namespace {

std::string lower(std::string s) {
    return Poco::toLower(s);
}

}  // namespace

std::string find_header(const Headers& headers, const std::string& name) {
    auto it = headers.find(lower(name));
    return it == headers.end() ? "" : it->second;
}

RawResponse::RawResponse(uint16_t port, const std::string& method, const std::string& target,
                         const std::string& body,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         std::chrono::milliseconds timeout)
    : socket_(Poco::Net::SocketAddress("127.0.0.1", port)) {
    Poco::Timespan span(static_cast<long>(timeout.count() / 1000),
                        static_cast<long>(timeout.count() % 1000 * 1000));
    socket_.setReceiveTimeout(span);
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    bool has_length = false;
    for (const auto& [name, value] : headers) {
        request += name + ": " + value + "\r\n";
        if (lower(name) == "content-length" || lower(name) == "transfer-encoding") {
            has_length = true;
        }
    }
    if (!has_length && (!body.empty() || method == "POST")) {
        request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    request += "Connection: close\r\n\r\n" + body;
    socket_.sendBytes(request.data(), static_cast<int>(request.size()));
}

bool RawResponse::read_head(int& status, std::string& reason, Headers& headers) {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
        if (!fill()) return false;
    }
    std::istringstream head(buffer_.substr(0, end));
    buffer_.erase(0, end + 4);
    std::string line;
    std::getline(head, line);
    status = std::stoi(line.substr(9, 3));
    reason = line.size() > 13 ? line.substr(13) : "";
    if (!reason.empty() && reason.back() == '\r') reason.pop_back();
    while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        headers.emplace(lower(line.substr(0, colon)), value);
    }
    chunked_ = lower(find_header(headers, "transfer-encoding")) == "chunked";
    std::string length = find_header(headers, "content-length");
    content_length_ = length.empty() ? -1 : std::stoll(length);
    return true;
}

std::string RawResponse::read_body_piece(bool& complete) {
    while (true) {
        std::string piece;
        if (chunked_) {
            decoder_.feed(buffer_.data(), buffer_.size(), piece);
        } else {
            piece = buffer_;
            received_ += static_cast<long long>(piece.size());
        }
        buffer_.clear();
        if (chunked_ && decoder_.done()) {
            complete = true;
            return piece;
        }
        if (!chunked_ && content_length_ >= 0 && received_ >= content_length_) {
            complete = true;
            return piece;
        }
        if (!piece.empty()) return piece;
        if (!fill()) {
            complete = !chunked_ && content_length_ < 0;
            return "";
        }
    }
}

bool RawResponse::fill() {
    char data[16384];
    int n = 0;
    try {
        n = socket_.receiveBytes(data, sizeof data);
    } catch (const Poco::Exception&) {
        return false;
    }
    if (n <= 0) return false;
    buffer_.append(data, static_cast<size_t>(n));
    return true;
}

}  // namespace ge_test::detail
