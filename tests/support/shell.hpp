// Running a shell command line from a test (openssl, curl, node, promtool).
#pragma once

#include <string>

namespace ge_test {

// Runs `command` with /bin/sh, stderr joined to stdout. Returns its exit code (-1 if it did not
// exit normally) and, in `output`, what it printed.
int run_shell(const std::string& command, std::string* output = nullptr);

// 'text' with single quotes, for a command line.
std::string shell_quote(const std::string& text);

}  // namespace ge_test
