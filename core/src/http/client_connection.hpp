// One client's connection: its socket and the bytes received but not consumed yet. The reactor
// fills it without blocking until a request head is complete; a worker then serves requests on
// it with blocking reads and writes (bounded by the socket's timeouts), and hands it back.
#pragma once

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <openssl/ssl.h>
#include <sys/uio.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace gradatum::http {

class ClientConnection {
  public:
    ClientConnection(Poco::Net::StreamSocket socket, Poco::Net::SocketAddress server_address);
    ~ClientConnection();
    ClientConnection(const ClientConnection&) = delete;
    ClientConnection& operator=(const ClientConnection&) = delete;

    // TLS (an https:// listener): every read and write below goes through an OpenSSL session
    // on `context`, after handshake() is done.
    void start_tls(SSL_CTX* context);
    bool secure() const { return ssl_ != nullptr; }
    enum class Handshake { done, want_read, want_write, failed };
    // Reactor side, non-blocking: one more step of the server handshake.
    Handshake handshake();
    // Bytes OpenSSL has decrypted but nobody read yet move to pending() (epoll cannot see them).
    void drain_tls_pending();
    // Reactor side: a short answer without blocking (best effort; the connection closes after).
    void send_now(std::string_view data);

    Poco::Net::StreamSocket& socket() { return socket_; }
    int fd() const { return fd_; }
    const Poco::Net::SocketAddress& client_address() const { return client_; }
    // The client's address as text, "host:port" and "host" (made once per connection, not per
    // request: the access log and X-Forwarded-For need them on every request).
    const std::string& client_text();
    const std::string& client_host_text();
    const Poco::Net::SocketAddress& server_address() const { return server_; }

    // Received and not consumed yet.
    std::string_view pending() const { return std::string_view(buffer_).substr(start_); }
    void consume(size_t n);
    // Puts bytes back in front of pending() (read past the end of a body).
    void unread(const char* data, size_t size);

    // Worker side, blocking: pending bytes first, else one recv(). 0 at the end of the stream.
    // Throws Poco::TimeoutException when the receive timeout passes with nothing, and
    // Poco::IOException on a reset.
    size_t read_some(char* out, size_t size);

    enum class Fill { some, nothing, closed };
    // Never blocks (MSG_DONTWAIT; the socket itself stays blocking): appends what has arrived,
    // keeping pending() within `limit`.
    Fill fill(size_t limit);

    // Blocking: sends every byte (the send timeout bounds each wait); false if the client is
    // gone or stopped reading.
    bool send_all(const iovec* parts, int count);
    bool send_all(std::string_view data);

    // The front's event loop it belongs to (a worker hands it back there).
    size_t loop = 0;

  private:
    Poco::Net::StreamSocket socket_;
    int fd_;
    Poco::Net::SocketAddress client_;
    Poco::Net::SocketAddress server_;
    std::string client_text_;
    std::string client_host_text_;
    std::string buffer_;
    size_t start_ = 0;
    SSL* ssl_ = nullptr;
};

}  // namespace gradatum::http
