#include "real_parts.hpp"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "build_paths.hpp"

namespace ge_test {

namespace {

// Runs a command through the shell; returns its last stdout line, empty on failure.
std::string last_line_of(const std::string& command) {
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return "";
    std::string out;
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

}  // namespace ge_test
