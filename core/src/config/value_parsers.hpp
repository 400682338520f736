// Parsers for config values that only the core reads (the shared ones are in
// gradatum/config_values.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace gradatum::config {

std::optional<ListenAddress> parse_listen(const std::string& text);  // host:port, [v6]:port

// A model, alias or group name: letters, digits, _ and -, not empty. A name is a key component
// ("models.<name>.backend"), so no dot; the same rule for aliases keeps every name a client may
// send one kind of word.
bool valid_name(std::string_view name);
// An alias is a value, not part of a key: it may also use . : / @ + (gpt-3.5-turbo, llama3:8b,
// Qwen/Qwen2.5-0.5B).
bool valid_alias(std::string_view name);

// "a, b ,c" -> {"a", "b", "c"}: split at every comma, each entry trimmed; empty entries are kept
// (the caller names them: a stray comma is a typo).
std::vector<std::string_view> split_list(std::string_view text);

}  // namespace gradatum::config
