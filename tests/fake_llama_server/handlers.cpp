// Request routing and the fake endpoints. Shapes follow the real llama-server closely enough for
// a reverse proxy and a supervisor not to tell the difference where their tests look.
#include "handlers.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace fake {
namespace {

using json = nlohmann::json;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr const char* kJsonType = "application/json; charset=utf-8";
constexpr const char* kFingerprint = "b0-fake";

// ---- response helpers ----------------------------------------------------------------------

void SendBody(HTTPServerResponse& response, int status, const std::string& type,
              const std::string& body) {
    response.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(status));
    response.setContentType(type);
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body;
}

void SendJson(HTTPServerResponse& response, int status, const json& body) {
    SendBody(response, status, kJsonType, body.dump());
}

// The OpenAI error envelope the real server uses for every error.
void SendError(HTTPServerResponse& response, int code, const std::string& message,
               const std::string& type) {
    SendJson(response, code, {{"error", {{"code", code}, {"message", message}, {"type", type}}}});
}

std::string Base64(const std::string& bytes) {
    std::ostringstream out;
    Poco::Base64Encoder encoder(out);
    encoder.rdbuf()->setLineLength(0);  // one line, so tests can compare strings directly
    encoder.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    encoder.close();
    return out.str();
}

// ---- request capture -----------------------------------------------------------------------

RecordedRequest ReadRequest(HTTPServerRequest& request) {
    RecordedRequest recorded;
    recorded.method = request.getMethod();
    recorded.uri = request.getURI();
    recorded.peer = request.clientAddress().toString();
    for (const auto& [name, value] : request) {
        recorded.headers.emplace_back(name, value);
    }
    Poco::StreamCopier::copyToString(request.stream(), recorded.body);
    return recorded;
}

json RequestJson(const RecordedRequest& r) {
    json headers = json::object();  // repeated names are joined with ", " like HTTP allows
    json header_list = json::array();
    for (const auto& [name, value] : r.headers) {
        header_list.push_back({name, value});
        const auto it = headers.find(name);
        if (it == headers.end()) {
            headers[name] = value;
        } else {
            *it = it->get<std::string>() + ", " + value;
        }
    }
    return {{"method", r.method},
            {"uri", r.uri},
            {"headers", headers},
            {"header_list", header_list},
            {"body_size", r.body.size()},
            {"body_base64", Base64(r.body)},
            {"peer", r.peer}};
}

std::string PathOf(const std::string& uri) {
    return uri.substr(0, uri.find('?'));
}

bool StartsWith(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

// ---- completions ---------------------------------------------------------------------------

// What one completion request asked for, resolved before any byte of the response is sent.
struct Completion {
    bool chat = true;
    std::string id;
    std::string model;
    long created = 0;
    long prompt_tokens = 0;
    bool include_usage = false;
};

long CountWords(const json& j) {
    if (j.is_string()) {
        std::istringstream in(j.get<std::string>());
        std::string word;
        long n = 0;
        while (in >> word) {
            ++n;
        }
        return n;
    }
    long n = 0;
    if (j.is_structured()) {
        for (const json& child : j) {
            n += CountWords(child);
        }
    }
    return n;
}

std::string Token(int i) {
    return "tok" + std::to_string(i) + " ";
}

json Usage(const Completion& c, long completion_tokens) {
    return {{"completion_tokens", completion_tokens},
            {"prompt_tokens", c.prompt_tokens},
            {"total_tokens", c.prompt_tokens + completion_tokens}};
}

json Envelope(const Completion& c, const json& choice, const char* object) {
    return {{"choices", json::array({choice})},
            {"created", c.created},
            {"id", c.id},
            {"model", c.model},
            {"system_fingerprint", kFingerprint},
            {"object", object}};
}

// One streamed chunk; empty text with a finish reason makes the closing chunk.
json StreamChunk(const Completion& c, const std::string& text, const json& finish_reason) {
    if (!c.chat) {
        return Envelope(
            c,
            {{"text", text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish_reason}},
            "text_completion");
    }
    const json delta = text.empty() ? json::object() : json{{"content", text}};
    return Envelope(c, {{"delta", delta}, {"index", 0}, {"finish_reason", finish_reason}},
                    "chat.completion.chunk");
}

json FullResponse(const Completion& c, const std::string& text, long tokens) {
    json result;
    if (c.chat) {
        result = Envelope(c,
                          {{"message", {{"role", "assistant"}, {"content", text}}},
                           {"index", 0},
                           {"finish_reason", "stop"}},
                          "chat.completion");
    } else {
        result = Envelope(
            c, {{"text", text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", "stop"}},
            "text_completion");
    }
    result["usage"] = Usage(c, tokens);
    return result;
}

// Simulates a hard crash: no flush, no FIN on the open streams beyond what the kernel does.
[[noreturn]] void Crash() {
    std::fprintf(stderr, "fake-llama-server: crashing on purpose (--fake-crash-after-events)\n");
    const struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);  // a test crash should not leave core files around
    std::abort();
}

// A kill from outside (the OOM killer, kill -9) while the request is in hand: no answer, no
// flush; the kernel closes the connections.
[[noreturn]] void KillSelf(const char* why) {
    std::fprintf(stderr, "fake-llama-server: killing myself on purpose (%s)\n", why);
    std::fflush(nullptr);
    const struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    kill(getpid(), SIGKILL);
    std::abort();  // not reached
}

// The end of a forked helper that holds descriptors for `ms`: async-signal-safe calls only.
[[noreturn]] void HoldThenExit(int ms) {
    const struct timespec wait = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&wait, nullptr);
    _exit(0);
}

// Keeps `listener_fd` open for `ms` in a forked helper that closes every other descriptor and
// leaves the process group (which the engine kills when a child ends): the port of a server
// that died still takes connections.
void LeaveListenerOpen(int listener_fd, int ms) {
    std::fflush(nullptr);
    if (listener_fd < 0 || fork() != 0) return;
    // No allocation after fork() in a threaded process: close_range, else one call per number.
    if (syscall(SYS_close_range, static_cast<unsigned>(listener_fd + 1), ~0u, 0u) != 0) {
        for (int fd = listener_fd + 1; fd < 65536; ++fd) close(fd);
    }
    for (int fd = 0; fd < listener_fd; ++fd) close(fd);
    setsid();
    HoldThenExit(ms);
}

// True for the one caller that creates `path` (across processes: O_EXCL).
bool FirstToClaim(const std::string& path) {
    const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    close(fd);
    return true;
}

// Counts every SSE event sent so --fake-crash-after-events can fire at the right one.
class EventWriter {
  public:
    EventWriter(std::ostream& out, int crash_after) : out_(out), crash_after_(crash_after) {
        CrashIfDue();  // crash_after == 0: die right after the headers went out
    }

    // Returns false once the client has gone away.
    bool send(const std::string& payload) {
        out_ << "data: " << payload << "\n\n";
        out_.flush();  // one chunk per event, so the client sees it now
        if (!out_.good()) {
            return false;
        }
        ++sent_;
        CrashIfDue();
        return true;
    }

  private:
    void CrashIfDue() const {
        if (crash_after_ >= 0 && sent_ >= crash_after_) {
            Crash();
        }
    }

    std::ostream& out_;
    const int crash_after_;
    int sent_ = 0;
};

// RAII bump of the "requests processing" gauge.
class Processing {
  public:
    explicit Processing(std::atomic<long>& gauge) : gauge_(gauge) { ++gauge_; }
    ~Processing() { --gauge_; }

  private:
    std::atomic<long>& gauge_;
};

// ---- the handler ---------------------------------------------------------------------------

class FakeHandler : public Poco::Net::HTTPRequestHandler {
  public:
    explicit FakeHandler(ServerState& state) : state_(state), options_(state.options()) {}

    void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
        try {
            Handle(request, response);
        } catch (const std::exception& e) {
            if (!response.sent()) {
                SendError(response, 500, e.what(), "server_error");
            }
        }
    }

  private:
    void Handle(HTTPServerRequest& request, HTTPServerResponse& response) {
        const RecordedRequest incoming = ReadRequest(request);
        const std::string path = PathOf(incoming.uri);
        if (StartsWith(path, "/fake/")) {
            HandleFake(path, incoming, response);
            return;
        }
        const bool is_health = path == "/health" || path == "/v1/health";
        if (!is_health) {
            state_.record(incoming);
        }
        if (is_health && state_.healthHung()) {
            ParkUntilClientLeaves(request);  // never answers
            return;
        }
        // Same middleware order as the real server: CORS header, loading check, API key.
        response.set("Access-Control-Allow-Origin", "");
        if (!state_.loaded()) {
            SendError(response, 503, "Loading model", "unavailable_error");
            return;
        }
        if (!is_health && !Authorized(request)) {
            SendError(response, 401, "Invalid API Key", "authentication_error");
            return;
        }
        if (IsGeneration(path) && state_.generationHung()) {
            ParkUntilClientLeaves(request);  // wedged: never answers, /health still does
            return;
        }
        Route(incoming, path, response);
    }

    // A hung /health holds its thread until shutdown or until the client gives up, so a
    // supervisor polling with timeouts cannot use up the thread pool.
    void ParkUntilClientLeaves(HTTPServerRequest& request) {
        try {
            Poco::Net::StreamSocket& socket =
                static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket();
            const int readable_or_error =
                Poco::Net::Socket::SELECT_READ | Poco::Net::Socket::SELECT_ERROR;
            while (state_.sleepFor(100)) {
                char byte = 0;
                if (socket.poll(Poco::Timespan(0), readable_or_error) &&
                    socket.receiveBytes(&byte, 1, MSG_PEEK) <= 0) {
                    return;  // peer closed
                }
            }
        } catch (const Poco::Exception&) {
            // connection reset: the client is gone
        }
    }

    static bool IsGeneration(const std::string& path) {
        return path == "/completion" || path == "/completions" || path == "/v1/completions" ||
               path == "/chat/completions" || path == "/v1/chat/completions";
    }

    bool Authorized(const HTTPServerRequest& request) const {
        if (options_.api_key.empty()) {
            return true;
        }
        std::string key = request.get("Authorization", "");
        if (key.empty()) {
            key = request.get("X-Api-Key", "");
        }
        if (StartsWith(key, "Bearer ")) {
            key = key.substr(7);
        }
        return key == options_.api_key;
    }

    void Route(const RecordedRequest& in, const std::string& path, HTTPServerResponse& response) {
        const bool get = in.method == "GET";
        const bool post = in.method == "POST";
        if (get && (path == "/health" || path == "/v1/health")) {
            SendJson(response, 200, {{"status", "ok"}});
        } else if (get && (path == "/v1/models" || path == "/models")) {
            SendModels(response);
        } else if (post && (path == "/v1/chat/completions" || path == "/chat/completions")) {
            HandleCompletion(in, response, true);
        } else if (post && (path == "/v1/completions" || path == "/completions")) {
            HandleCompletion(in, response, false);
        } else if (post && path == "/completion") {
            HandleNativeCompletion(in, response);
        } else if (post && (path == "/v1/embeddings" || path == "/embeddings")) {
            HandleEmbeddings(in, response);
        } else if (post && path == "/tokenize") {
            HandleTokenize(in, response);
        } else if (get && path == "/props") {
            SendProps(response);
        } else if (get && path == "/slots") {
            SendSlots(response);
        } else if (get && path == "/metrics") {
            SendMetrics(response);
        } else {
            SendError(response, 404, "File Not Found", "not_found_error");
        }
    }

    // ---- /fake/* test hooks, never recorded and never authenticated ----

    void HandleFake(const std::string& path, const RecordedRequest& in,
                    HTTPServerResponse& response) {
        if (path == "/fake/echo" || StartsWith(path, "/fake/echo/")) {
            response.add("X-Fake-Multi", "a");
            response.add("X-Fake-Multi", "b");
            SendJson(response, 200, RequestJson(in));
        } else if (path == "/fake/last-request") {
            const std::optional<RecordedRequest> last = state_.lastRequest();
            if (last) {
                SendJson(response, 200, RequestJson(*last));
            } else {
                SendError(response, 404, "no request recorded yet", "not_found_error");
            }
        } else if (StartsWith(path, "/fake/close-after/")) {
            // Answers like /fake/echo (keep-alive), then closes this connection `ms` later
            // without reading what a client sent meanwhile: a keep-alive connection that the
            // server gave up on.
            const int ms = std::atoi(path.c_str() + std::strlen("/fake/close-after/"));
            const std::string body = RequestJson(in).dump();
            response.setContentType(kJsonType);
            response.setContentLength(static_cast<std::streamsize>(body.size()));
            std::ostream& out = response.send();
            out << body;
            out.flush();
            state_.sleepFor(ms);
            // The head said keep-alive; this makes Poco close the connection now, without
            // reading (or answering) the request that may have arrived on it meanwhile.
            response.setKeepAlive(false);
        } else if (StartsWith(path, "/fake/hold-connections/")) {
            // A process that keeps every open connection of this server open for `ms` after the
            // server itself dies (a forked helper holding the descriptors): a proxy that reused
            // them would send requests nobody answers.
            const int ms = std::atoi(path.c_str() + std::strlen("/fake/hold-connections/"));
            std::fflush(nullptr);
            const pid_t holder = fork();
            if (holder == 0) {
                if (state_.listener_fd >= 0) close(state_.listener_fd);
                close(0);
                close(1);
                close(2);
                HoldThenExit(ms);
            }
            SendJson(response, 200, {{"holder_pid", holder}});
        } else if (path == "/fake/hang-up") {
            // Reads the request, then closes the connection without a word: a server that died
            // after it took the request in.
            ++state_.hang_ups;
            response.setKeepAlive(false);
        } else if (path == "/fake/die-mid-answer") {
            // Sends the head and a part of the body, then is killed: a child that died after
            // its answer had begun.
            const std::string body = R"({"object":"chat.completion","choices":[)";
            response.setContentType(kJsonType);
            response.setContentLength(1000);
            std::ostream& out = response.send();
            out << body;
            out.flush();
            state_.sleepFor(50);  // let the bytes leave first
            KillSelf("/fake/die-mid-answer");
        } else if (path == "/fake/hang-ups") {
            SendJson(response, 200, {{"count", state_.hang_ups.load()}});
        } else if (path == "/fake/sink") {
            // Takes any body and says how long it was (for timing large uploads).
            SendJson(response, 200, {{"bytes", in.body.size()}});
        } else if (path == "/fake/connections") {
            SendJson(response, 200,
                     {{"open", state_.open_connections ? state_.open_connections() : -1}});
        } else if (StartsWith(path, "/fake/slow/")) {
            // A small answer that takes MS milliseconds (a slow GET).
            state_.sleepFor(static_cast<int>(std::atol(path.c_str() + std::strlen("/fake/slow/"))));
            SendJson(response, 200, {{"slow", true}});
        } else if (path == "/fake/pid") {
            SendBody(response, 200, "text/plain", std::to_string(getpid()));
        } else if (StartsWith(path, "/fake/spew/")) {
            // A chatty child: N lines of output at once (e.g. llama-server's verbose logging).
            // /fake/spew/N/FROM numbers them from FROM (default 0).
            const char* spec = path.c_str() + std::strlen("/fake/spew/");
            const long lines = std::atol(spec);
            const char* from_part = std::strchr(spec, '/');
            const long from = from_part ? std::atol(from_part + 1) : 0;
            const std::string line(100, 'x');
            for (long i = from; i < from + lines; ++i) {
                std::fprintf(stderr, "spew %ld %s\n", i, line.c_str());
            }
            std::fflush(stderr);
            SendJson(response, 200, {{"lines", lines}});
        } else if (StartsWith(path, "/fake/die-slowly/")) {
            // A dying server: it refuses new connections at once, but exits only after `ms`.
            // This connection closes too (a proxy must not keep it for the next request).
            const int ms = std::atoi(path.c_str() + std::strlen("/fake/die-slowly/"));
            if (state_.close_listener) state_.close_listener();
            response.setKeepAlive(false);
            SendJson(response, 200, {{"exiting_in_ms", ms}});
            std::thread([ms] {
                std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                std::fprintf(stderr, "main: dying slowly: exit now\n");
                std::fflush(nullptr);
                std::_Exit(1);
            }).detach();
        } else {
            SendError(response, 404, "File Not Found", "not_found_error");
        }
    }

    // ---- llama-server endpoints ----

    void SendModels(HTTPServerResponse& response) {
        const json model = {{"id", options_.modelId()},
                            {"object", "model"},
                            {"owned_by", "llamacpp"},
                            {"created", 0}};
        SendJson(response, 200, {{"object", "list"}, {"data", json::array({model})}});
    }

    void HandleCompletion(const RecordedRequest& in, HTTPServerResponse& response, bool chat) {
        json body;
        bool stream = false;
        Completion c;
        try {
            body = json::parse(in.body);
            stream = body.is_object() && body.value("stream", false);
        } catch (const std::exception& e) {
            SendError(response, 500, e.what(), "server_error");
            return;
        }
        const char* required = chat ? "messages" : "prompt";
        if (!body.is_object() || !body.contains(required)) {
            SendError(response, 400, chat ? "'messages' is required" : "\"prompt\" is required",
                      "invalid_request_error");
            return;
        }
        c.chat = chat;
        c.id = (chat ? "chatcmpl-fake" : "cmpl-fake") + std::to_string(state_.next_id++);
        c.model = body.contains("model") && body["model"].is_string()
                      ? body["model"].get<std::string>()
                      : options_.modelId();
        c.created = static_cast<long>(std::time(nullptr));
        c.prompt_tokens = CountWords(body[required]);
        const json stream_options = body.value("stream_options", json::object());
        c.include_usage =
            stream_options.is_object() && stream_options.value("include_usage", false);

        if (!options_.die_before_answer_once.empty() &&
            FirstToClaim(options_.die_before_answer_once)) {
            if (options_.listener_outlives_ms > 0) {
                LeaveListenerOpen(state_.listener_fd, options_.listener_outlives_ms);
            }
            KillSelf("--fake-die-before-answer-once");
        }
        Processing processing(state_.requests_processing);
        if (stream) {
            StreamCompletion(c, response);
        } else {
            RespondCompletion(c, response);
        }
    }

    void StreamCompletion(const Completion& c, HTTPServerResponse& response) {
        response.setStatusAndReason(HTTPResponse::HTTP_OK);
        response.setContentType("text/event-stream");
        response.setChunkedTransferEncoding(true);
        if (!options_.no_accel_buffering) response.set("X-Accel-Buffering", "no");
        EventWriter events(response.send(), options_.crash_after_events);

        for (int i = 0; i < options_.stream_events; ++i) {
            // On shutdown the stream just stops, with no [DONE], like the real server.
            if (!state_.sleepFor(options_.stream_interval_ms)) {
                return;
            }
            if (!events.send(Stamped(StreamChunk(c, Token(i), nullptr)).dump())) {
                return;  // client went away: stop quietly
            }
            ++state_.tokens_predicted;
        }
        json last = StreamChunk(c, "", "stop");
        if (c.include_usage) {
            last["usage"] = Usage(c, options_.stream_events);
        }
        if (events.send(Stamped(std::move(last)).dump())) {
            events.send("[DONE]");
        }
    }

    // With --fake-stamp-events, the chunk with the time it is being sent.
    json Stamped(json chunk) const {
        if (options_.stamp_events) {
            chunk["fake_sent_ns"] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count();
        }
        return chunk;
    }

    void RespondCompletion(const Completion& c, HTTPServerResponse& response) {
        state_.sleepFor(options_.response_delay_ms);
        std::string text;
        for (int i = 0; i < options_.stream_events; ++i) {
            text += Token(i);
        }
        state_.tokens_predicted += options_.stream_events;
        SendJson(response, 200, FullResponse(c, text, options_.stream_events));
    }

    // llama-server's own POST /completion, non-streaming only: n_predict tokens (at most
    // --fake-stream-events), in the fields a supervisor's generation probe reads.
    void HandleNativeCompletion(const RecordedRequest& in, HTTPServerResponse& response) {
        json body;
        try {
            body = json::parse(in.body);
        } catch (const std::exception& e) {
            SendError(response, 500, e.what(), "server_error");
            return;
        }
        if (!body.is_object() || !body.contains("prompt")) {
            SendError(response, 400, "\"prompt\" is required", "invalid_request_error");
            return;
        }
        if (body.value("stream", false)) {
            SendError(response, 501, "fake: streamed /completion is not implemented",
                      "not_supported_error");
            return;
        }
        const int n_predict = body.value("n_predict", -1);
        const int tokens =
            n_predict < 0 ? options_.stream_events : std::min(n_predict, options_.stream_events);
        Processing processing(state_.requests_processing);
        state_.sleepFor(options_.response_delay_ms);
        std::string text;
        for (int i = 0; i < tokens; ++i) {
            text += Token(i);
        }
        state_.tokens_predicted += tokens;
        SendJson(response, 200,
                 {{"content", text},
                  {"model", options_.modelId()},
                  {"tokens_predicted", tokens},
                  {"tokens_evaluated", CountWords(body["prompt"])},
                  {"stop", true},
                  {"stop_type", n_predict >= 0 && tokens == n_predict ? "limit" : "eos"}});
    }

    void HandleEmbeddings(const RecordedRequest& in, HTTPServerResponse& response) {
        if (!options_.embeddings) {
            SendError(response, 501,
                      "This server does not support embeddings. Start it with `--embeddings`",
                      "not_supported_error");
            return;
        }
        const json body = json::parse(in.body);  // a parse error becomes a 500 upstream
        const json input = body.value("input", json(""));
        const json inputs = input.is_array() ? input : json::array({input});
        json data = json::array();
        for (size_t i = 0; i < inputs.size(); ++i) {
            data.push_back(
                {{"object", "embedding"}, {"index", i}, {"embedding", {0.125, -0.25, 0.5, -1.0}}});
        }
        const long tokens = CountWords(inputs);
        SendJson(response, 200,
                 {{"object", "list"},
                  {"model", options_.modelId()},
                  {"data", data},
                  {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
    }

    void HandleTokenize(const RecordedRequest& in, HTTPServerResponse& response) {
        const json body = json::parse(in.body);
        json tokens = json::array();
        const long n = CountWords(body.value("content", json("")));
        for (long i = 0; i < n; ++i) {
            tokens.push_back(1000 + i);
        }
        SendJson(response, 200, {{"tokens", tokens}});
    }

    void SendProps(HTTPServerResponse& response) {
        SendJson(response, 200,
                 {{"default_generation_settings", {{"n_ctx", options_.ctx_size}}},
                  {"total_slots", options_.parallel},
                  {"model_path", options_.model},
                  {"model_alias", options_.modelId()},
                  {"chat_template", "{{ fake }}"},
                  {"modalities", {{"vision", !options_.mmproj.empty()}, {"audio", false}}},
                  {"build_info", kFingerprint}});
    }

    void SendSlots(HTTPServerResponse& response) {
        json slots = json::array();
        const int n_ctx = options_.parallel > 0 ? options_.ctx_size / options_.parallel : 0;
        for (int i = 0; i < options_.parallel; ++i) {
            slots.push_back({{"id", i}, {"n_ctx", n_ctx}, {"is_processing", false}});
        }
        SendJson(response, 200, slots);
    }

    void SendMetrics(HTTPServerResponse& response) {
        if (!options_.metrics) {
            SendError(response, 501,
                      "This server does not support metrics endpoint. Start it with `--metrics`",
                      "not_supported_error");
            return;
        }
        std::ostringstream out;
        out << "# HELP llamacpp:tokens_predicted_total Number of generation tokens processed.\n"
            << "# TYPE llamacpp:tokens_predicted_total counter\n"
            << "llamacpp:tokens_predicted_total " << state_.tokens_predicted << "\n"
            << "# HELP llamacpp:requests_processing Number of requests processing.\n"
            << "# TYPE llamacpp:requests_processing gauge\n"
            << "llamacpp:requests_processing " << state_.requests_processing << "\n";
        SendBody(response, 200, "text/plain; version=0.0.4", out.str());
    }

    ServerState& state_;
    const Options& options_;
};

}  // namespace

// ---- ServerState ---------------------------------------------------------------------------

ServerState::ServerState(Options options) : options_(std::move(options)) {}

namespace {

bool Passed(std::chrono::steady_clock::time_point start, int after_ms) {
    if (after_ms < 0) {
        return false;
    }
    return std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(after_ms);
}

}  // namespace

bool ServerState::healthHung() const {
    return Passed(start_, options_.hang_health_after_ms);
}

bool ServerState::generationHung() const {
    return Passed(start_, options_.hang_generation_after_ms);
}

void ServerState::record(RecordedRequest request) {
    std::lock_guard<std::mutex> lock(mutex_);
    last_request_ = std::move(request);
}

std::optional<RecordedRequest> ServerState::lastRequest() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_request_;
}

bool ServerState::sleepFor(int ms) {
    if (ms <= 0) {
        return !shuttingDown();
    }
    return !shutdown_.tryWait(ms);
}

Poco::Net::HTTPRequestHandler* HandlerFactory::createRequestHandler(
    const Poco::Net::HTTPServerRequest&) {
    return new FakeHandler(state_);
}

}  // namespace fake
