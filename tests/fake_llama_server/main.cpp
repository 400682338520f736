// Fake llama-server for gradatum-engine integration tests. Start-up follows the real server's
// order: bind the port, serve 503 while "loading the model", then serve until SIGTERM/SIGINT.
#include <Poco/Exception.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "handlers.hpp"
#include "options.hpp"

namespace {

// One pooled thread per connection (idle keep-alive and SSE streams included), so size the pool
// for the 64+ concurrent streams the proxy tests open.
constexpr int kMaxThreads = 128;
constexpr int kMaxQueued = 256;
constexpr int kShutdownDrainMs = 2000;

// NUL after each argument, so arguments containing newlines survive.
void WriteArgvFile(const std::string& path, int argc, char** argv) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (int i = 0; i < argc; ++i) {
        out.write(argv[i], static_cast<std::streamsize>(std::strlen(argv[i]) + 1));
    }
}

bool ModelReadable(const std::string& path) {
    struct stat st {};
    return !path.empty() && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           access(path.c_str(), R_OK) == 0;
}

// The lines the real server prints when a model file is missing, then its exit code.
[[noreturn]] void FailModelLoad(const std::string& path) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const char* p = path.c_str();
    std::fprintf(stderr, "gguf_init_from_file: failed to open GGUF file '%s'\n", p);
    std::fprintf(stderr,
                 "llama_model_load: error loading model: llama_model_loader: failed to load "
                 "model from %s\n",
                 p);
    std::fprintf(stderr, "llama_model_load_from_file_impl: failed to load model\n");
    std::fprintf(stderr, "srv    load_model: failed to load model, '%s'\n", p);
    std::fprintf(stderr, "main: exiting due to model loading error\n");
    std::fflush(nullptr);
    std::_Exit(1);  // server threads are running; skip destructors
}

std::string HostForUrl(const std::string& host) {
    return host.find(':') == std::string::npos ? host : "[" + host + "]";
}

// SO_REUSEPORT stays off: with it a second process could bind the same port and tests of
// "port already in use" would pass silently.
Poco::Net::ServerSocket Bind(const fake::Options& options) {
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress(options.host, static_cast<Poco::UInt16>(options.port)),
                /*reuseAddress=*/true, /*reusePort=*/false);
    socket.listen(kMaxQueued);
    return socket;
}

sigset_t StopSignals(bool ignore_sigterm) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    if (!ignore_sigterm) {
        sigaddset(&set, SIGTERM);
    }
    return set;
}

// Waits for one of `set`; returns it, or 0 when `ms` (>= 0) passed first. ms < 0 waits forever.
int WaitForSignal(const sigset_t& set, int ms) {
    if (ms < 0) {
        int sig = 0;
        sigwait(&set, &sig);
        return sig;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return 0;
        }
        const timespec ts = {static_cast<time_t>(left.count() / 1000000000),
                             static_cast<long>(left.count() % 1000000000)};
        const int sig = sigtimedwait(&set, nullptr, &ts);
        if (sig > 0) {
            return sig;
        }
        if (errno == EAGAIN) {
            return 0;
        }
        // EINTR: some other signal; wait for the rest of the time.
    }
}

// The real server has no handler installed while loading, so a stop signal kills it outright.
[[noreturn]] void DieFromSignal(int sig) {
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    raise(sig);
    std::_Exit(128 + sig);  // not reached
}

// Stops accepting, cuts open connections and waits briefly for handler threads to notice.
[[noreturn]] void Shutdown(fake::ServerState& state, Poco::Net::HTTPServer& server) {
    std::fprintf(stderr, "srv    operator(): operator(): cleaning up before exit...\n");
    // Cut the sockets first, then wake the handlers: a woken stream then cannot write its
    // closing chunk, so clients see the connection drop mid-stream as with the real server.
    server.stopAll(true);
    state.beginShutdown();  // wakes hung /health handlers and sleeping streams
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kShutdownDrainMs);
    while (server.currentConnections() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::fflush(nullptr);
    std::_Exit(0);  // a handler thread may still be parked; no destructor should wait for it
}

}  // namespace

int main(int argc, char** argv) {
    const fake::Options options = fake::ParseOptions(argc, argv);
    if (!options.argv_file.empty()) {
        WriteArgvFile(options.argv_file, argc, argv);
    }
    if (options.exit_at_start) {
        std::fprintf(stderr, "main: failed to load model (--fake-exit-at-start)\n");
        return *options.exit_at_start;
    }

    // Block the stop signals before any thread starts so that every thread inherits the mask
    // and only sigwait() below sees them.
    signal(SIGPIPE, SIG_IGN);
    if (options.ignore_sigterm) {
        signal(SIGTERM, SIG_IGN);
    }
    const sigset_t stop_signals = StopSignals(options.ignore_sigterm);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    std::fprintf(stderr, "build: 0 (fake) with fake-llama-server for gradatum-engine tests\n");
    std::fprintf(stderr, "system info: n_threads = %d | fake\n", options.threads);

    Poco::Net::ServerSocket socket;
    try {
        socket = Bind(options);
    } catch (const Poco::Exception& e) {
        std::fprintf(
            stderr, "srv    start: couldn't bind HTTP server socket, hostname: %s, port: %d (%s)\n",
            options.host.c_str(), options.port, e.displayText().c_str());
        std::fprintf(stderr, "main: exiting due to HTTP server error\n");
        return 1;
    }
    const int port = socket.address().port();
    const std::string url = "http://" + HostForUrl(options.host) + ":" + std::to_string(port);

    fake::ServerState state(options);
    const int threads = options.threads_http > 0 ? options.threads_http : kMaxThreads;
    Poco::ThreadPool pool("fake-http", 4, threads);
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(threads);
    params->setMaxQueued(kMaxQueued);
    params->setKeepAlive(true);
    Poco::Net::HTTPServer server(new fake::HandlerFactory(state), pool, socket, params);
    state.listener_fd = socket.impl()->sockfd();
    state.open_connections = [&server] { return server.currentConnections(); };
    // Stop the accepting thread before closing its socket: closing it under that thread's poll
    // would race on the descriptor (and a reused descriptor number would be polled instead).
    state.close_listener = [&server, socket]() mutable {
        server.stop();
        socket.close();
    };
    server.start();
    std::fprintf(stderr,
                 "main: HTTP server is listening, hostname: %s, port: %d, http threads: %d\n",
                 options.host.c_str(), port, threads);
    std::cout << "fake-llama-server pid " << getpid() << " listening on " << url << std::endl;

    std::fprintf(stderr, "main: loading model\n");
    std::fprintf(stderr, "srv    load_model: loading model '%s'\n", options.model.c_str());
    if (!ModelReadable(options.model)) {
        FailModelLoad(options.model);
    }
    if (options.load_progress_ms > 0) {
        // Like llama-server's loader: a line now and then while the load goes on.
        int left = options.load_ms;
        for (int step = 1; left > 0; ++step) {
            const int wait = std::min(left, options.load_progress_ms);
            if (const int sig = WaitForSignal(stop_signals, wait)) {
                DieFromSignal(sig);
            }
            left -= wait;
            std::fprintf(stderr, "llama_model_loader: fake progress: %d ms loaded\n",
                         options.load_ms - left);
        }
    } else if (const int sig = WaitForSignal(stop_signals, options.load_ms)) {
        DieFromSignal(sig);
    }
    state.markLoaded();
    std::fprintf(stderr, "main: model loaded\n");
    std::fprintf(stderr, "main: server is listening on %s - starting the main loop\n", url.c_str());
    std::fprintf(stderr, "srv  update_slots: all slots are idle\n");

    const int sig = WaitForSignal(stop_signals, -1);
    std::fprintf(stderr, "main: received signal %d, shutting down\n", sig);
    Shutdown(state, server);
}
