#include "shell.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <stdexcept>

namespace ge_test {

int run_shell(const std::string& command, std::string* output) {
    std::string line = command + " 2>&1";
    FILE* pipe = popen(line.c_str(), "r");
    if (!pipe) throw std::runtime_error("popen failed: " + command);
    std::string text;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) text.append(buffer, n);
    int status = pclose(pipe);
    if (output) *output = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string shell_quote(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace ge_test
