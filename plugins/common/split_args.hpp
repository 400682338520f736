// A command line in a config value, split into words the way llama_server.args and command.argv
// are: no shell is involved, so nothing is expanded.
#pragma once

#include <string>
#include <vector>

namespace plugin_common {

// Whitespace separates, '…' and "…" group, \ escapes (inside "…" too, not inside '…').
// Throws SettingsError naming `key` for an unterminated quote.
std::vector<std::string> split_args(const std::string& args, const std::string& key);

}  // namespace plugin_common
