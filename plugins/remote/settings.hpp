// The remote plugin's view of a model's config, validated: where the server is, how to probe
// it, the key it wants, and how soon to probe again after it went down.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/settings_error.hpp"

namespace remote {

// A config key is wrong. `key` is relative to models.<name>. (e.g. "remote.url").
using plugin_common::SettingsError;

// The parts of remote.url the engine uses: http://host[:port][/].
struct Endpoint {
    std::string host;  // a name, an IPv4 address, or an IPv6 address without its brackets
    uint16_t port = 80;
};

struct Settings {
    Endpoint endpoint;
    std::string health_path = "/health";
    std::optional<std::string> api_key;  // sent as Authorization: Bearer; never in a message
    // After the target went down: the first delay before probing again, doubled on each failure
    // in a row up to retry_max. It never gives up.
    std::chrono::milliseconds retry_interval{1000};
    std::chrono::milliseconds retry_max{30'000};
};

// Parses remote.url. Refuses https (not yet), credentials, a path, a query or a fragment, each
// with a message that says what to write instead.
Endpoint parse_url(const std::string& key, const std::string& url);

// `values`: every key under models.<name>. that the core left to the plugin.
// Throws SettingsError for an unknown key, a bad value, or a missing remote.url.
Settings parse_settings(const std::map<std::string, std::string>& values);

}  // namespace remote
