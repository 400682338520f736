// Command-line options of the fake llama-server: the real flags it accepts and the fake-only
// knobs that integration tests use to script its behaviour.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace fake {

struct Options {
    // Flags shared with the real llama-server. Most are only accepted and reported by /props.
    std::string model;
    std::string host = "127.0.0.1";
    int port = 8080;
    int ctx_size = 4096;
    int threads = -1;
    std::string n_gpu_layers = "auto";
    int parallel = 4;
    std::string mmproj;
    bool embeddings = false;
    std::string alias;
    std::string pooling;
    bool metrics = false;
    std::string api_key;  // empty: no authentication
    int sse_ping_interval = 30;
    bool no_webui = false;
    int threads_http = -1;  // -1: the fake's default (128 connections served at once)

    // Fake-only flags.
    int load_ms = 100;
    // While loading, a line like llama-server's tensor-loading lines every this many ms (0: none).
    int load_progress_ms = 0;
    int stream_events = 5;
    int stream_interval_ms = 10;
    int crash_after_events = -1;
    // The first completion request of all the children sharing this file (which it creates) is
    // read, then the process is killed before a byte of an answer: a child killed mid-generation.
    // Its restarted successor finds the file and answers normally.
    std::string die_before_answer_once;
    // With die_before_answer_once: a forked helper in a session of its own keeps the listening
    // socket (and nothing else) open for this many ms after the process died, so the port still
    // takes connections with no server behind it (0: the listener dies with the process).
    int listener_outlives_ms = 0;
    std::optional<int> exit_at_start;
    int hang_health_after_ms = -1;
    // From this many ms after start, generation requests (/completion, /v1/completions,
    // /v1/chat/completions) are never answered while /health keeps answering 200: a wedged
    // generation that the readiness probe cannot see (-1: never).
    int hang_generation_after_ms = -1;
    std::string argv_file;
    bool ignore_sigterm = false;
    int response_delay_ms = 0;
    // Each streamed chunk gets "fake_sent_ns": the monotonic clock (CLOCK_MONOTONIC, which is
    // std::chrono::steady_clock on Linux and shared by every process) just before it is sent.
    bool stamp_events = false;
    // Streams go out without the X-Accel-Buffering header (which the real server sends).
    bool no_accel_buffering = false;

    // The model id reported by /v1/models and in completions.
    std::string modelId() const { return alias.empty() ? model : alias; }
};

// Parses argv the way llama-server does. On a bad command line prints the error to stderr and
// exits 1; on --version prints the version and exits 0.
Options ParseOptions(int argc, char** argv);

}  // namespace fake
