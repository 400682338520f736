// Typed, validated engine settings read from a Poco configuration file.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace gradatum {

// A user error in the configuration. what() names the file and the key.
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The config file could not be found or parsed at all.
class ConfigFileError : public ConfigError {
  public:
    using ConfigError::ConfigError;
};

struct ListenAddress {
    std::string host = "127.0.0.1";
    uint16_t port = 8080;
    bool tls = false;  // written as https://address:port
};

// server.tls.*: the certificate of every https:// listener.
struct TlsSettings {
    std::string cert;                 // PEM file: the certificate (and any chain after it)
    std::string key;                  // PEM file: its private key; must not be readable by others
    std::string ca;                   // optional PEM file: intermediate certificates
    std::string min_version = "1.2";  // "1.2" or "1.3"
};

struct ServerSettings {
    // server.listen: specific addresses only (see config/listen_addresses.hpp), numeric hosts,
    // in the order written; never empty.
    std::vector<ListenAddress> listen{ListenAddress{}};
    // server.allow_wildcard: 0.0.0.0 / :: may be listed (the engine logs a warning).
    bool allow_wildcard = false;
    TlsSettings tls;
    // server.metrics_listen: a listener that serves GET /metrics only (e.g. loopback for a
    // scraper); same address rules as server.listen, plain HTTP.
    std::optional<ListenAddress> metrics_listen;
    bool metrics_children = false;  // merge each child's llama-server /metrics (model label)
    // Small requests (GET/HEAD, no body) to a ready model are forwarded on the reactor thread.
    bool fast_lane = true;
    // Event-loop threads: they hold the connections, read request heads, and run the fast
    // lane. 0: one per core, at most 4.
    int event_threads = 0;
    int threads = 256;     // request threads: one per request being served or stream
    int max_queued = 256;  // the listen backlog: connections the kernel holds before accept
    size_t max_connections = 10'000;      // open client connections, idle ones included
    size_t max_header_bytes = 64 * 1024;  // a larger request head gets 431
    size_t max_headers = 100;             // more header fields get 431
    // Durations are bounded by config_values::kMaxDuration (30 days) and at least 1 ms unless 0.
    std::chrono::milliseconds drain_timeout{30'000};  // graceful stop: wait for in-flight requests
    std::chrono::milliseconds upstream_idle_timeout{3'600'000};  // silence between upstream bytes
    std::string default_model;                                   // for requests that name no model
    int max_body_mb = 64;                                        // larger request bodies get 413
    std::chrono::milliseconds header_timeout{10'000};            // a whole request head (then 408)
    std::chrono::milliseconds keep_alive_timeout{10'000};   // an idle connection between requests
    std::chrono::milliseconds client_idle_timeout{30'000};  // a stalled request body (408)
    std::chrono::milliseconds client_send_timeout{60'000};  // a client that stops reading
    // Client API keys: server.api_keys and the keys of server.api_keys_file, in that order,
    // without duplicates. Empty: no key is required. Secrets: never logged, never in a message.
    std::vector<std::string> api_keys;
    bool health_requires_key = false;  // GET /health needs a key too (when keys are configured)
    // Connecting to a child; request sent -> first response byte; idle connections kept per
    // child (0: a new connection for every request).
    std::chrono::milliseconds upstream_connect_timeout{5'000};
    std::chrono::milliseconds upstream_header_timeout{600'000};
    int upstream_keepalive = 32;

    // Many models (issue 8). server.admin_keys: keys for /admin/ (separate from api_keys; with
    // none set, /admin/ is served on loopback listeners only). Secrets, as api_keys.
    std::vector<std::string> admin_keys;
    // server.max_running: models whose children may run at once (0: no limit).
    int max_running = 0;
    // server.max_wait_for_swap: when models take turns, the longest a request waits for its
    // model while another one keeps serving its own queue (then that one drains and swaps).
    std::chrono::milliseconds max_wait_for_swap{30'000};
    // server.cache_dir: where models with keep_cache keep their state between children, one
    // directory per model. Default: $XDG_CACHE_HOME/gradatum-engine/state, else
    // $HOME/.cache/gradatum-engine/state. Resolved by the loader (empty when no model keeps one).
    std::string cache_dir;
};

// groups.<g>.*: models that share a resource (models.<name>.group = g).
struct GroupSettings {
    std::string name;
    bool exclusive = false;  // groups.<g>.exclusive: at most one member runs at a time
};

struct LivenessSettings {
    std::chrono::milliseconds interval{10'000};
    std::chrono::milliseconds timeout{5'000};
    int failures = 3;
    // liveness.generate: probe with the plugin's one-token generation request instead of its
    // readiness probe, so a child whose /health answers while generation is wedged restarts.
    bool generate = false;
};

struct ModelSettings {
    std::string name;
    std::string backend;
    std::chrono::milliseconds ready_timeout{600'000};
    std::chrono::milliseconds queue_timeout{30'000};
    std::chrono::milliseconds stop_timeout{10'000};
    // Requests that may wait for a restart at once (each holds a request thread); the rest get
    // 503 at once. Default: a quarter of server.threads, at most 64.
    size_t max_waiting = 64;
    LivenessSettings liveness;

    // Many models (issue 8).
    std::vector<std::string> aliases;     // models.<name>.aliases: other names that select it
    std::optional<ListenAddress> listen;  // models.<name>.listen: its own listener (plain HTTP)
    // models.<name>.autostart: started with the engine. Default (resolved by the loader): true
    // with one model; with several, true for server.default_model only.
    bool autostart = true;
    std::chrono::milliseconds ttl{0};  // idle this long (no request in flight) -> stop; 0: never
    std::string group;                 // models.<name>.group: a groups.<g> name, or ""
    // models.<name>.max_concurrent: requests in flight at once (0: no limit); past it up to
    // max_queued wait (bounded by queue_timeout), and the rest get 429.
    size_t max_concurrent = 0;
    size_t max_queued = 64;
    // models.<name>.min_loaded: once ready, not stopped to make room for this long.
    std::chrono::milliseconds min_loaded{0};
    // models.<name>.keep_cache: before a planned stop the plugin saves the child's state (for
    // llama-server: its slots' KV cache) into the model's cache directory, and the next child
    // restores it before it is marked ready. Needs a plugin with handover_step (ABI 1.4).
    bool keep_cache = false;
    size_t cache_max_mb = 4096;                       // the directory's size bound (oldest dropped)
    std::chrono::milliseconds cache_timeout{60'000};  // a whole save or restore
    std::string state_dir;  // resolved: <server.cache_dir>/<name> with keep_cache, else ""
    // Every other key under models.<name>. (e.g. "llama_server.model"), raw, for the plugin.
    std::map<std::string, std::string> backend_config;
};

struct EngineConfig {
    std::string source_path;
    ServerSettings server;
    std::vector<ModelSettings> models;  // sorted by name
    std::vector<GroupSettings> groups;  // sorted by name; every models.<name>.group is one
    std::string log_level = "info";
    std::string log_format = "text";  // logging.format: text or json
    std::string log_file;             // logging.file: empty for stderr only
    int log_max_size_mb = 100;        // logging.max_size_mb: rotate past this size
    int log_max_files = 5;            // logging.max_files: rotated files kept
    bool log_access = true;           // logging.access: one line per request
    // Every key of the file with its raw value, for the plugins' config_get service.
    std::map<std::string, std::string> raw;
};

// Loads and validates a .properties, .ini, .xml or .json file. Throws ConfigFileError when the
// file cannot be read, ConfigError (naming file and key) for anything else.
EngineConfig load_config(const std::string& path);

// For --check: the same checks, but every problem is appended to `problems` (one
// "file: key: message" each) instead of thrown; what could not be read keeps its default. An
// unreadable file is one problem (and an empty config).
EngineConfig check_config(const std::string& path, std::vector<std::string>& problems);

// "file: key: message", the one format of every config error.
std::string config_error_text(const std::string& file, const std::string& key,
                              const std::string& message);

}  // namespace gradatum
