#include "harness.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/File.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <signal.h>
#include <unistd.h>

#include <dirent.h>
#include <fstream>
#include <sstream>
#include <thread>

#include "proxy/chunked_decoder.hpp"

namespace ge_test {

TempDir::TempDir() {
    char pattern[] = "/tmp/ge-test-XXXXXX";
    char* made = mkdtemp(pattern);
    if (!made) throw std::runtime_error("mkdtemp failed");
    path_ = made;
}

TempDir::~TempDir() {
    try {
        Poco::File(path_).remove(true);
    } catch (...) {
    }
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
    std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary) << content;
    return file;
}

uint16_t free_port() {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    return socket.address().port();
}

namespace {

std::string lower(std::string s) {
    return Poco::toLower(s);
}

std::string find_header(const std::multimap<std::string, std::string>& headers,
                        const std::string& name) {
    auto it = headers.find(lower(name));
    return it == headers.end() ? "" : it->second;
}

// Minimal HTTP/1.1 client on a raw socket: we need to see exactly what the engine sends.
class RawResponse {
  public:
    RawResponse(uint16_t port, const std::string& method, const std::string& target,
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

    // Reads the status line and headers. Returns false if the connection closed first.
    bool read_head(int& status, std::multimap<std::string, std::string>& headers) {
        std::string reason;
        return read_head(status, reason, headers);
    }

    bool read_head(int& status, std::string& reason,
                   std::multimap<std::string, std::string>& headers) {
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

    // Returns the next piece of body; empty when the body is over. `complete` says whether the
    // body ended as its framing promised.
    std::string read_body_piece(bool& complete) {
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

    void close() { socket_.close(); }

  private:
    bool fill() {
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

    Poco::Net::StreamSocket socket_;
    std::string buffer_;
    bool chunked_ = false;
    long long content_length_ = -1;
    long long received_ = 0;
    gradatum::proxy::ChunkedDecoder decoder_;
};

}  // namespace

std::string HttpResult::header(const std::string& name) const {
    return find_header(headers, name);
}
std::string StreamResult::header(const std::string& name) const {
    return find_header(headers, name);
}

HttpResult http(uint16_t port, const std::string& method, const std::string& target,
                const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& headers,
                std::chrono::milliseconds timeout) {
    RawResponse raw(port, method, target, body, headers, timeout);
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

StreamResult stream(uint16_t port, const std::string& target, const std::string& body,
                    std::chrono::milliseconds timeout, size_t stop_after,
                    const std::function<void(size_t count)>& on_event) {
    RawResponse raw(port, "POST", target, body, {{"Content-Type", "application/json"}}, timeout);
    StreamResult result;
    if (!raw.read_head(result.status, result.headers)) return result;
    std::string pending;
    while (true) {
        bool complete = false;
        std::string piece = raw.read_body_piece(complete);
        auto now = Clock::now();
        pending += piece;
        size_t end;
        while ((end = pending.find("\n\n")) != std::string::npos) {
            std::string event = pending.substr(0, end);
            pending.erase(0, end + 2);
            if (event.empty()) continue;
            result.events.push_back(event);
            result.arrived.push_back(now);
            if (on_event) on_event(result.events.size());
            if (stop_after && result.events.size() >= stop_after) {
                raw.close();
                return result;
            }
        }
        if (complete) {
            result.complete = true;
            break;
        }
        if (piece.empty()) break;
    }
    return result;
}

std::string base64_decode(const std::string& text) {
    std::istringstream in(text);
    Poco::Base64Decoder decoder(in);
    return std::string(std::istreambuf_iterator<char>(decoder), {});
}

Engine::Engine(const std::string& config, const std::string& extension,
               std::vector<std::string> extra_args, std::vector<std::string> launcher) {
    port_ = free_port();
    std::string text = config;
    // The harness owns the listen address so that tests can run side by side.
    if (extension == "properties" && text.find("server.listen") == std::string::npos)
        text = "server.listen = 127.0.0.1:" + std::to_string(port_) + "\n" + text;
    config_path_ = dir_.write("engine." + extension, text);
    gradatum::SpawnSpec spec;
    spec.program = engine_binary();
    spec.argv = {engine_binary(), "--config", config_path_, "--plugin-dir", plugin_dir()};
    spec.argv.insert(spec.argv.end(), extra_args.begin(), extra_args.end());
    if (!launcher.empty()) {
        spec.program = launcher.front();
        spec.argv.insert(spec.argv.begin(), launcher.begin(), launcher.end());
    }
    child_ = gradatum::ChildProcess::spawn(
        spec,
        [this](bool, const std::string& line) {
            std::lock_guard<std::mutex> lock(mutex_);
            lines_.push_back(line);
        },
        nullptr);
}

Engine::~Engine() {
    if (child_ && !child_->exit_status()) {
        child_->signal_group(SIGKILL);
        child_->wait_exit(5s);
    }
    // For debugging a failure: GE_TEST_KEEP_LOGS=DIR keeps every engine's log there.
    if (const char* keep = std::getenv("GE_TEST_KEEP_LOGS")) {
        std::ofstream(std::string(keep) + "/engine-" + std::to_string(port_) + ".log") << log();
    }
}

bool Engine::wait_health(int status, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (child_->exit_status()) return false;
        try {
            if (http(port_, "GET", "/health", "", {}, 2s).status == status) return true;
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

bool Engine::wait_log(const std::string& text, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (log_contains(text)) return true;
        std::this_thread::sleep_for(10ms);
    }
    return log_contains(text);
}

bool Engine::log_contains(const std::string& text) const {
    return log_count(text) > 0;
}

size_t Engine::log_count(const std::string& text) const {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t n = 0;
    for (const auto& line : lines_) n += line.find(text) != std::string::npos;
    return n;
}

std::string Engine::log() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    for (const auto& line : lines_) out += line + "\n";
    return out;
}

void Engine::drain_output() {
    child_.reset();
}

void Engine::signal(int sig) {
    child_->signal_group(sig);
}

int Engine::wait_exit(std::chrono::milliseconds timeout) {
    if (!child_->wait_exit(timeout)) return -1;
    auto status = *child_->exit_status();
    return status.signal ? 128 + status.signal : status.code;
}

int Engine::stop(int sig, std::chrono::milliseconds timeout) {
    // Only the engine: its children are its own business (that is what is being tested).
    kill(child_->pid(), sig);
    return wait_exit(timeout);
}

int run_engine_once(const std::string& config, const std::string& extension, std::string& output,
                    std::vector<std::string> extra_args) {
    int code;
    {
        Engine engine(config, extension, std::move(extra_args));
        code = engine.wait_exit(30s);
        engine.drain_output();
        output = engine.log();
    }
    return code;
}

int run_engine_args(const std::vector<std::string>& args, std::string& output) {
    std::mutex mutex;
    gradatum::SpawnSpec spec;
    spec.program = engine_binary();
    spec.argv = {engine_binary()};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    auto child = gradatum::ChildProcess::spawn(
        spec,
        [&](bool, const std::string& line) {
            std::lock_guard<std::mutex> lock(mutex);
            output += line + "\n";
        },
        nullptr);
    if (!child->wait_exit(30s)) return -1;
    auto status = *child->exit_status();
    child.reset();  // joins the reader: all output is in
    return status.signal ? 128 + status.signal : status.code;
}

namespace {

// /proc/PID/stat, or "" if the process is gone (reading a vanishing process fails with ESRCH,
// which libstdc++'s filebuf turns into an exception).
std::string proc_stat(pid_t pid) {
    try {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        if (!stat) return "";
        return std::string((std::istreambuf_iterator<char>(stat)), {});
    } catch (const std::exception&) {
        return "";
    }
}

}  // namespace

std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> out;
    DIR* proc = opendir("/proc");
    if (!proc) return out;
    while (dirent* entry = readdir(proc)) {
        pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
        if (pid <= 0) continue;
        std::string content = proc_stat(pid);
        auto close_paren = content.rfind(')');
        if (close_paren == std::string::npos) continue;
        std::istringstream fields(content.substr(close_paren + 2));
        char state;
        pid_t ppid;
        fields >> state >> ppid;
        if (ppid == parent) out.push_back(pid);
    }
    closedir(proc);
    return out;
}

bool process_alive(pid_t pid) {
    std::string content = proc_stat(pid);
    auto close_paren = content.rfind(')');
    return close_paren != std::string::npos && content.size() > close_paren + 2 &&
           content[close_paren + 2] != 'Z' && content[close_paren + 2] != 'X';
}

bool wait_all_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (true) {
        bool any = false;
        for (pid_t pid : pids) any = any || process_alive(pid);
        if (!any) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
}

uint16_t child_port(const Engine& engine) {
    std::string log = engine.log();
    auto at = log.rfind(" on port ");
    if (at == std::string::npos) return 0;
    return static_cast<uint16_t>(std::atoi(log.c_str() + at + 9));
}

namespace {

// Runs a command through the shell; returns its last stdout line, empty on failure.
std::string last_line_of(const std::string& command) {
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return "";
    std::string out, line;
    char buffer[4096];
    while (fgets(buffer, sizeof buffer, pipe)) out += buffer;
    int status = pclose(pipe);
    if (status != 0) return "";
    while (!out.empty() && out.back() == '\n') out.pop_back();
    auto newline = out.rfind('\n');
    return newline == std::string::npos ? out : out.substr(newline + 1);
}

RealParts find_real_parts() {
    RealParts parts;
    parts.llama_server = last_line_of(source_dir() + "/scripts/get-llama-server.sh --no-build");
    if (parts.llama_server.empty()) return parts;  // no need for a model then
    if (const char* model = std::getenv("GE_TINY_MODEL")) {
        parts.model = model;
    } else {
        const char* cache = std::getenv("GE_CACHE");
        const char* home = std::getenv("HOME");
        std::string dir =
            cache ? cache : std::string(home ? home : "/tmp") + "/.cache/gradatum-engine";
        parts.model = last_line_of(source_dir() + "/scripts/make-tiny-model.sh " + dir +
                                   "/tiny-model.gguf 2>/dev/null");
    }
    return parts;
}

}  // namespace

const RealParts& real_parts() {
    static const RealParts parts = find_real_parts();
    if (parts.llama_server.empty() || parts.model.empty()) {
        std::string why = parts.llama_server.empty()
                              ? "no llama-server (set LLAMA_SERVER, put it on PATH, or run "
                                "scripts/get-llama-server.sh)"
                              : "the tiny model could not be made (scripts/make-tiny-model.sh)";
        const char* ci = std::getenv("CI");
        if (ci && std::string(ci) == "true") {
            throw std::runtime_error("real tier cannot run under CI: " + why);
        }
        std::fprintf(stderr, "SKIPPED: %s\n", why.c_str());
        std::fflush(stderr);
        std::_Exit(77);
    }
    return parts;
}

std::string engine_binary() {
    return GE_ENGINE_BINARY;
}
std::string plugin_dir() {
    return GE_PLUGIN_DIR;
}
std::string fake_llama_server() {
    return GE_FAKE_LLAMA_SERVER;
}
std::string source_dir() {
    return GE_SOURCE_DIR;
}

std::string fake_model_config(const std::string& name, const std::string& model_path,
                              const std::string& fake_args) {
    std::string prefix = "models." + name + ".";
    return prefix + "backend = llama_server\n" + prefix +
           "llama_server.binary = " + fake_llama_server() + "\n" + prefix +
           "llama_server.model = " + model_path + "\n" + prefix +
           "llama_server.args = " + fake_args + "\n";
}

std::string real_model_config(const std::string& extra) {
    const RealParts& parts = real_parts();
    return "models.tiny.backend = llama_server\n"
           "models.tiny.llama_server.binary = " +
           parts.llama_server + "\n" + "models.tiny.llama_server.model = " + parts.model + "\n" +
           extra;
}

pid_t only_child(const Engine& engine) {
    std::vector<pid_t> alive;
    for (pid_t pid : children_of(engine.pid())) {
        if (process_alive(pid)) alive.push_back(pid);  // not a zombie the engine has yet to reap
    }
    return alive.size() == 1 ? alive.front() : 0;
}

FakeEngine::FakeEngine(const std::string& fake_args, const std::string& extra_config) {
    model = files.write("model.gguf", "not really a model");
    engine = std::make_unique<Engine>(fake_model_config("m", model, fake_args) + extra_config);
}

}  // namespace ge_test
