// What a backend plugin tells the core and what the core tells it, in C++ terms: the neutral
// vocabulary shared by the plugin wrapper, the process layer and the supervisor.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gradatum {

struct SpawnSpec {
    std::string program;  // a path, or a name looked up on PATH
    std::vector<std::string> argv;
    std::vector<std::string> env;  // NAME=value, added to the engine's environment
    std::string workdir;
};

struct Target {
    std::string host;
    uint16_t port = 0;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct ProbeRequest {
    std::string method = "GET";
    std::string path = "/health";
    std::string body;          // sent with Content-Length when not empty
    std::string content_type;  // sent when not empty
    std::vector<std::pair<std::string, std::string>> headers;
};

enum class ProbeVerdict { loading, ready, failed };

// When the plugin may talk to its child to hand state over to the next one (ABI 1.4).
enum class HandoverPoint { save, restore };

// An HTTP answer as the plugin sees it: status 0 means none (refused, reset, timed out).
struct ProbeAnswerView {
    int status = 0;
    std::string body;
};

struct ExitInfo {
    int exit_code = -1;
    int signal = 0;
    bool was_ready = false;
    bool stopped_by_core = false;
    bool exec_failed = false;  // the program could not be run at all (missing, exec refused)
    uint64_t uptime_ms = 0;
    uint64_t ready_ms = 0;
    uint64_t now_ms = 0;
    std::string stderr_tail;
    std::string core_reason;
};

struct ExitDecision {
    bool restart = false;
    uint32_t delay_ms = 0;
    std::string reason;
};

}  // namespace gradatum
