#include "http/client_connection.hpp"

#include <Poco/Exception.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace gradatum::http {

ClientConnection::ClientConnection(Poco::Net::StreamSocket socket,
                                   Poco::Net::SocketAddress server_address)
    : socket_(std::move(socket)),
      fd_(socket_.impl()->sockfd()),
      client_(socket_.peerAddress()),
      server_(std::move(server_address)) {}

void ClientConnection::consume(size_t n) {
    start_ += std::min(n, buffer_.size() - start_);
    if (start_ == buffer_.size()) {
        buffer_.clear();
        start_ = 0;
    } else if (start_ > 64 * 1024) {
        buffer_.erase(0, start_);  // keep the consumed prefix from growing
        start_ = 0;
    }
}

void ClientConnection::unread(const char* data, size_t size) {
    buffer_.erase(0, start_);
    start_ = 0;
    buffer_.insert(0, data, size);
}

size_t ClientConnection::read_some(char* out, size_t size) {
    if (start_ < buffer_.size()) {
        size_t n = std::min(size, buffer_.size() - start_);
        std::memcpy(out, buffer_.data() + start_, n);
        consume(n);
        return n;
    }
    while (true) {
        ssize_t n = ::recv(fd_, out, size, 0);
        if (n >= 0) return static_cast<size_t>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) throw Poco::TimeoutException("client idle");
        throw Poco::IOException(std::string("client connection: ") + std::strerror(errno));
    }
}

ClientConnection::Fill ClientConnection::fill(size_t limit) {
    Fill result = Fill::nothing;
    char chunk[16384];
    while (pending().size() < limit) {
        ssize_t n =
            ::recv(fd_, chunk, std::min(sizeof chunk, limit - pending().size()), MSG_DONTWAIT);
        if (n > 0) {
            buffer_.append(chunk, static_cast<size_t>(n));
            result = Fill::some;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return Fill::closed;  // end of stream or an error
    }
    return result;
}

bool ClientConnection::send_all(const iovec* parts, int count) {
    std::vector<iovec> left(parts, parts + count);
    size_t first = 0;
    while (first < left.size()) {
        msghdr message{};
        message.msg_iov = left.data() + first;
        message.msg_iovlen = left.size() - first;
        ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;  // EAGAIN here means the send timeout passed
        }
        auto sent = static_cast<size_t>(n);
        while (first < left.size() && sent >= left[first].iov_len) {
            sent -= left[first].iov_len;
            ++first;
        }
        if (first < left.size()) {
            left[first].iov_base = static_cast<char*>(left[first].iov_base) + sent;
            left[first].iov_len -= sent;
        }
    }
    return true;
}

bool ClientConnection::send_all(std::string_view data) {
    iovec part{const_cast<char*>(data.data()), data.size()};
    return send_all(&part, 1);
}

}  // namespace gradatum::http
