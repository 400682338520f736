#include "http/client_connection.hpp"
#include "http/send_all.hpp"

#include <Poco/Exception.h>
#include <openssl/err.h>
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

const std::string& ClientConnection::client_text() {
    if (client_text_.empty()) client_text_ = client_.toString();
    return client_text_;
}

const std::string& ClientConnection::client_host_text() {
    if (client_host_text_.empty()) client_host_text_ = client_.host().toString();
    return client_host_text_;
}

ClientConnection::~ClientConnection() {
    if (ssl_) {
        SSL_shutdown(ssl_);  // a close_notify if it can go at once; the socket closes anyway
        SSL_free(ssl_);
    }
}

void ClientConnection::start_tls(SSL_CTX* context) {
    ssl_ = SSL_new(context);
    if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) throw Poco::IOException("SSL_new failed");
    SSL_set_accept_state(ssl_);
}

ClientConnection::Handshake ClientConnection::handshake() {
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) return Handshake::done;
    switch (SSL_get_error(ssl_, rc)) {
        case SSL_ERROR_WANT_READ:
            return Handshake::want_read;
        case SSL_ERROR_WANT_WRITE:
            return Handshake::want_write;
        default:
            ERR_clear_error();
            return Handshake::failed;  // e.g. plain HTTP on a TLS port, or an untrusting client
    }
}

void ClientConnection::drain_tls_pending() {
    if (!ssl_) return;
    char chunk[16384];
    while (SSL_pending(ssl_) > 0) {
        int n = SSL_read(ssl_, chunk, sizeof chunk);
        if (n <= 0) break;
        buffer_.append(chunk, static_cast<size_t>(n));
    }
}

void ClientConnection::send_now(std::string_view data) {
    if (ssl_) {
        SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
        ERR_clear_error();
    } else {
        ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
}

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
    if (ssl_) {
        int n = SSL_read(ssl_, out, static_cast<int>(std::min<size_t>(size, 1 << 30)));
        if (n > 0) return static_cast<size_t>(n);
        int error = SSL_get_error(ssl_, n);
        ERR_clear_error();
        if (error == SSL_ERROR_ZERO_RETURN) return 0;
        // The receive timeout shows as a read that wants more.
        if (error == SSL_ERROR_WANT_READ) throw Poco::TimeoutException("client idle");
        if (error == SSL_ERROR_SYSCALL && errno == 0) return 0;  // closed without close_notify
        throw Poco::IOException("client connection: TLS read failed");
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
        if (ssl_) {
            // Until OpenSSL wants more from the socket: it holds nothing decrypted after that.
            int n = SSL_read(ssl_, chunk, static_cast<int>(sizeof chunk));
            if (n > 0) {
                buffer_.append(chunk, static_cast<size_t>(n));
                result = Fill::some;
                continue;
            }
            int error = SSL_get_error(ssl_, n);
            ERR_clear_error();
            if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) break;
            return Fill::closed;
        }
        // MSG_DONTWAIT: a worker also fills a blocking socket here (the next keep-alive request).
        const size_t wanted = std::min(sizeof chunk, limit - pending().size());
        ssize_t n = ::recv(fd_, chunk, wanted, MSG_DONTWAIT);
        if (n > 0) {
            buffer_.append(chunk, static_cast<size_t>(n));
            result = Fill::some;
            // A short read took all there was: the recv() that would only say EAGAIN is saved
            // (the reactor's epoll is level-triggered; an end of stream shows on the next call).
            if (static_cast<size_t>(n) < wanted) break;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return Fill::closed;  // end of stream or an error
    }
    return result;
}

bool ClientConnection::send_all(const iovec* parts, int count) {
    if (ssl_) {
        // One record for what the caller sends together (an SSE event and its chunk framing):
        // it goes out at once, whole.
        std::string joined;
        for (int i = 0; i < count; ++i) {
            joined.append(static_cast<const char*>(parts[i].iov_base), parts[i].iov_len);
        }
        if (joined.empty()) return true;
        int n = SSL_write(ssl_, joined.data(), static_cast<int>(joined.size()));
        if (n == static_cast<int>(joined.size())) return true;
        ERR_clear_error();
        return false;  // gone, or the send timeout passed
    }
    std::vector<iovec> left(parts, parts + count);  // send_all advances it in place
    return http::send_all(fd_, left.data(), count);
}

bool ClientConnection::send_all(std::string_view data) {
    iovec part{const_cast<char*>(data.data()), data.size()};
    return send_all(&part, 1);
}

}  // namespace gradatum::http
