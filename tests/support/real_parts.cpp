#include "real_parts.hpp"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "build_paths.hpp"
#include "shell.hpp"

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

std::string cache_dir() {
    const char* cache = std::getenv("GE_CACHE");
    const char* home = std::getenv("HOME");
    return cache ? cache : std::string(home ? home : "/tmp") + "/.cache/gradatum-engine";
}

// Fails the test under CI (CI=true), else exits 77: ctest reports it as skipped.
[[noreturn]] void skip_or_fail(const std::string& why) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") {
        throw std::runtime_error("real tier cannot run under CI: " + why);
    }
    std::fprintf(stderr, "SKIPPED: %s\n", why.c_str());
    std::fflush(stderr);
    std::_Exit(77);
}

RealParts find_real_parts() {
    RealParts parts;
    parts.llama_server = last_line_of(source_dir() + "/scripts/get-llama-server.sh --no-build");
    if (parts.llama_server.empty()) return parts;  // no need for a model then
    if (const char* model = std::getenv("GE_TINY_MODEL")) {
        parts.model = model;
    } else {
        parts.model = last_line_of(source_dir() + "/scripts/make-tiny-model.sh " + cache_dir() +
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
        skip_or_fail(why);
    }
    return parts;
}

const std::string& real_mmproj() {
    const RealParts& parts = real_parts();
    static const std::string mmproj = [&] {
        if (const char* path = std::getenv("GE_TINY_MMPROJ")) return std::string(path);
        return last_line_of(source_dir() + "/scripts/make-tiny-mmproj.sh " +
                            shell_quote(parts.model) + " " +
                            shell_quote(cache_dir() + "/tiny-mmproj.gguf") + " 2>/dev/null");
    }();
    if (mmproj.empty())
        skip_or_fail("the tiny projector could not be made (scripts/make-tiny-mmproj.sh)");
    return mmproj;
}

}  // namespace ge_test
