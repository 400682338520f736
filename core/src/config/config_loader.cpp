// Reads a Poco configuration file (format chosen by extension) into EngineConfig.
// Every key is checked: unknown keys are errors, because a typo silently ignored costs users hours.
#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Path.h>
#include <Poco/Util/AbstractConfiguration.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/JSONConfiguration.h>
#include <Poco/Util/PropertyFileConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include "config/across_models.hpp"
#include "config/cache_dir.hpp"
#include "config/config.hpp"
#include "config/listen_addresses.hpp"
#include "config/validator.hpp"
#include "config/value_parsers.hpp"
#include "gradatum/config_values.hpp"

namespace gradatum {

using config::Validator;
using Poco::AutoPtr;
using Poco::Util::AbstractConfiguration;

std::string config_error_text(const std::string& file, const std::string& key,
                              const std::string& message) {
    return file + ": " + (key.empty() ? "" : key + ": ") + message;
}

namespace {

AutoPtr<AbstractConfiguration> open_by_extension(const std::string& path) {
    std::ifstream probe(path);
    if (!probe) throw ConfigFileError(path + ": cannot read config file");
    std::string ext = Poco::Path(path).getExtension();
    try {
        if (ext == "properties") return new Poco::Util::PropertyFileConfiguration(path);
        if (ext == "ini") return new Poco::Util::IniFileConfiguration(path);
        if (ext == "xml") return new Poco::Util::XMLConfiguration(path);
        if (ext == "json") return new Poco::Util::JSONConfiguration(path);
    } catch (const Poco::Exception& e) {
        throw ConfigFileError(path + ": cannot parse config file: " + e.displayText());
    }
    throw ConfigFileError(path + ": unsupported config format '." + ext +
                          "' (use .properties, .ini, .xml or .json)");
}

// No real key is this deep; an empty key component ("a..b", "a.") would otherwise recurse
// forever (found by fuzzing).
constexpr int kMaxKeyDepth = 16;

// Collects leaf keys (keys without children) with their raw, unexpanded values.
void collect_leaves(const AbstractConfiguration& conf, const std::string& path,
                    const std::string& prefix, std::map<std::string, std::string>& out,
                    int depth = 0) {
    AbstractConfiguration::Keys children;
    conf.keys(prefix, children);
    if (children.empty()) {
        if (!prefix.empty())
            out[prefix] = std::string(config_values::trim(conf.getRawString(prefix, "")));
        return;
    }
    for (const auto& child : children) {
        std::string key = prefix.empty() ? child : prefix + "." + child;
        if (child.empty() || depth >= kMaxKeyDepth) {
            throw ConfigError(config_error_text(
                path, key, child.empty() ? "empty key name" : "key nested too deep"));
        }
        collect_leaves(conf, path, key, out, depth + 1);
    }
}

// A key may hold any visible character but no space or control character: it travels in an
// HTTP header, and a stray space is a typo, not part of a secret.
bool valid_key(std::string_view key) {
    return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u != 0x7f;
    });
}

// server.api_keys, server.admin_keys: comma-separated. Messages name keys by position, never by
// value. `when_empty`: the advice for an empty value.
std::vector<std::string> read_key_list(const Validator& v, const std::string& key,
                                       const std::string& text, const std::string& when_empty) {
    if (config_values::trim(text).empty()) v.fail(key, "empty (" + when_empty + ")");
    std::vector<std::string> keys;
    size_t number = 0;
    for (std::string_view entry : config::split_list(text)) {
        ++number;
        if (entry.empty())
            v.fail(key, "key " + std::to_string(number) + " is empty (a stray comma?)");
        if (!valid_key(entry)) {
            v.fail(key,
                   "key " + std::to_string(number) + " contains a space or a control character");
        }
        keys.emplace_back(entry);
    }
    return keys;
}

// Appends `keys` to `out`, each once.
void add_unique(std::vector<std::string>& out, std::vector<std::string> keys) {
    for (auto& k : keys) {
        if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(std::move(k));
    }
}

// A key that holds one plain-HTTP listener (server.metrics_listen, models.<name>.listen), read
// by the rules of server.listen. `no_tls`: why https:// is refused there.
ListenAddress read_plain_listen(const Validator& v, const std::string& key, const std::string& text,
                                bool allow_wildcard, const std::string& no_tls) {
    config::ListenOptions options;
    options.allow_wildcard = allow_wildcard;
    options.subnet_broadcasts = config::interface_broadcasts();
    ListenAddress address;
    try {
        address = config::parse_one_listen(text, options);
    } catch (const config::ListenSpecError& e) {
        v.fail(key, e.what());
    }
    if (address.tls) v.fail(key, no_tls);
    return address;
}

// Opens a file that holds secrets; it must be a regular file only its owner may read or write.
// Returns the open descriptor.
int open_private_file(const Validator& v, const std::string& key, const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT) v.fail(key, "file not found: " + path);
        v.fail(key, "cannot open " + path + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        v.fail(key, "not a regular file: " + path);
    }
    if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) {
        ::close(fd);
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        v.fail(key, path + " is readable or writable by other users (mode " + mode +
                        "); allow only its owner: chmod 600 " + path);
    }
    return fd;
}

// A file the engine must be able to read (a certificate).
void require_readable(const Validator& v, const std::string& key, const std::string& path) {
    if (path.empty()) v.fail(key, "empty (a file path)");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT) v.fail(key, "file not found: " + path);
        v.fail(key, "cannot open " + path + ": " + std::strerror(errno));
    }
    ::close(fd);
}

// server.tls.*: needed as soon as one listener is https://.
TlsSettings read_tls(const Validator& v, bool needed) {
    TlsSettings tls;
    auto get = [&](const std::string& name) {
        auto it = v.raw().find("server.tls." + name);
        return it == v.raw().end() ? std::string() : it->second;
    };
    tls.cert = get("cert");
    tls.key = get("key");
    tls.ca = get("ca");
    if (auto version = get("min_version"); !version.empty()) tls.min_version = version;
    if (tls.min_version != "1.2" && tls.min_version != "1.3") {
        v.fail("server.tls.min_version", "expected 1.2 or 1.3, got '" + tls.min_version + "'");
    }
    bool any = !tls.cert.empty() || !tls.key.empty() || !tls.ca.empty();
    if (!needed) {
        if (any) v.fail("server.tls.cert", "set, but no server.listen entry is https://");
        return tls;
    }
    if (tls.cert.empty())
        v.fail("server.tls.cert", "missing (an https:// listener needs a certificate)");
    if (tls.key.empty())
        v.fail("server.tls.key", "missing (an https:// listener needs its private key)");
    require_readable(v, "server.tls.cert", tls.cert);
    ::close(open_private_file(v, "server.tls.key", tls.key));
    if (!tls.ca.empty()) require_readable(v, "server.tls.ca", tls.ca);
    return tls;
}

// server.api_keys_file: one key per line, '#' comment lines and blank lines skipped. The file must
// be private (no group or other read/write): the keys are secrets.
std::vector<std::string> read_key_file(const Validator& v, const std::string& path) {
    const std::string key = "server.api_keys_file";
    if (path.empty()) v.fail(key, "empty (the path of a file with one key per line)");
    int fd = open_private_file(v, key, path);
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    constexpr size_t kMaxSize = 1 << 20;
    std::string content;
    char buffer[4096];
    while (true) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) v.fail(key, "cannot read " + path + ": " + std::strerror(errno));
        if (n == 0) break;
        content.append(buffer, static_cast<size_t>(n));
        if (content.size() > kMaxSize) v.fail(key, path + " is larger than 1 MiB: not a key file");
    }
    std::vector<std::string> keys;
    size_t start = 0, line = 0;
    while (start < content.size()) {
        size_t end = std::min(content.find('\n', start), content.size());
        std::string_view text =
            config_values::trim(std::string_view(content).substr(start, end - start));
        start = end + 1;
        ++line;
        if (text.empty() || text.front() == '#') continue;
        if (!valid_key(text)) {
            v.fail(key, path + " line " + std::to_string(line) +
                            ": a key may not contain spaces or control characters");
        }
        keys.emplace_back(text);
    }
    if (keys.empty()) v.fail(key, path + " holds no key (only comments or blank lines)");
    return keys;
}

// server.threads at most; no more requests than that can be in flight or waiting at once.
constexpr long long kMaxThreads = 10000;

ServerSettings read_server(const Validator& v) {
    static const std::vector<std::string> known = {"listen",
                                                   "allow_wildcard",
                                                   "threads",
                                                   "max_queued",
                                                   "max_connections",
                                                   "drain_timeout",
                                                   "upstream_idle_timeout",
                                                   "default_model",
                                                   "max_body_mb",
                                                   "max_header_bytes",
                                                   "max_headers",
                                                   "header_timeout",
                                                   "keep_alive_timeout",
                                                   "client_idle_timeout",
                                                   "client_send_timeout",
                                                   "api_keys",
                                                   "api_keys_file",
                                                   "health_requires_key",
                                                   "tls.cert",
                                                   "tls.key",
                                                   "tls.ca",
                                                   "tls.min_version",
                                                   "metrics_listen",
                                                   "metrics_children",
                                                   "upstream_connect_timeout",
                                                   "upstream_header_timeout",
                                                   "upstream_keepalive",
                                                   "fast_lane",
                                                   "event_threads",
                                                   "admin_keys",
                                                   "max_running",
                                                   "max_wait_for_swap",
                                                   "cache_dir"};
    ServerSettings s;
    for (const auto& [key, value] : v.raw()) {
        if (key.rfind("server.", 0) != 0) continue;
        if (std::find(known.begin(), known.end(), key.substr(7)) == known.end()) {
            std::string list;
            for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
            v.report(key, "unknown key (known: " + list + ")");
        }
    }
    s.allow_wildcard = v.boolean("server.allow_wildcard", s.allow_wildcard);
    if (auto it = v.raw().find("server.listen"); it != v.raw().end()) {
        config::ListenOptions options;
        options.allow_wildcard = s.allow_wildcard;
        options.subnet_broadcasts = config::interface_broadcasts();
        try {
            s.listen = config::parse_listen_list(it->second, options);
        } catch (const config::ListenSpecError& e) {
            v.report("server.listen", e.what());
        }
    }
    v.attempt([&] {
        if (auto it = v.raw().find("server.metrics_listen"); it != v.raw().end()) {
            ListenAddress metrics =
                read_plain_listen(v, "server.metrics_listen", it->second, s.allow_wildcard,
                                  "https:// is not offered here");
            for (const auto& main : s.listen) {
                std::string why = config::listen_collision(metrics, main, "server.listen");
                if (!why.empty()) v.fail("server.metrics_listen", why);
            }
            s.metrics_listen = metrics;
        }
        s.metrics_children = v.boolean("server.metrics_children", s.metrics_children);
        s.fast_lane = v.boolean("server.fast_lane", s.fast_lane);
        s.tls = read_tls(v, std::any_of(s.listen.begin(), s.listen.end(),
                                        [](const ListenAddress& a) { return a.tls; }));
    });
    s.threads = static_cast<int>(v.integer("server.threads", s.threads, 4, kMaxThreads));
    s.event_threads = static_cast<int>(v.integer("server.event_threads", s.event_threads, 0, 64));
    s.max_queued = static_cast<int>(v.integer("server.max_queued", s.max_queued, 1, 100000));
    s.drain_timeout = v.duration("server.drain_timeout", s.drain_timeout);
    s.upstream_idle_timeout =
        v.duration("server.upstream_idle_timeout", s.upstream_idle_timeout, /*positive=*/true);
    s.max_body_mb = static_cast<int>(v.integer("server.max_body_mb", s.max_body_mb, 1, 65536));
    s.max_connections = static_cast<size_t>(
        v.integer("server.max_connections", static_cast<long long>(s.max_connections), 1, 1000000));
    s.max_header_bytes = static_cast<size_t>(v.integer(
        "server.max_header_bytes", static_cast<long long>(s.max_header_bytes), 1024, 1 << 24));
    s.max_headers = static_cast<size_t>(
        v.integer("server.max_headers", static_cast<long long>(s.max_headers), 1, 10000));
    s.header_timeout = v.duration("server.header_timeout", s.header_timeout, true);
    s.keep_alive_timeout = v.duration("server.keep_alive_timeout", s.keep_alive_timeout, true);
    s.client_idle_timeout = v.duration("server.client_idle_timeout", s.client_idle_timeout, true);
    s.client_send_timeout = v.duration("server.client_send_timeout", s.client_send_timeout, true);
    s.upstream_connect_timeout = v.duration("server.upstream_connect_timeout",
                                            s.upstream_connect_timeout, /*positive=*/true);
    s.upstream_header_timeout =
        v.duration("server.upstream_header_timeout", s.upstream_header_timeout, /*positive=*/true);
    s.upstream_keepalive =
        static_cast<int>(v.integer("server.upstream_keepalive", s.upstream_keepalive, 0, 4096));
    s.max_running = static_cast<int>(v.integer("server.max_running", s.max_running, 0, 10000));
    s.max_wait_for_swap = v.duration("server.max_wait_for_swap", s.max_wait_for_swap);
    if (auto it = v.raw().find("server.default_model"); it != v.raw().end()) {
        s.default_model = it->second;
    }
    if (auto it = v.raw().find("server.api_keys"); it != v.raw().end()) {
        v.attempt([&] {
            add_unique(s.api_keys, read_key_list(v, "server.api_keys", it->second,
                                                 "remove the line to run without client keys"));
        });
    }
    if (auto it = v.raw().find("server.api_keys_file"); it != v.raw().end()) {
        v.attempt([&] { add_unique(s.api_keys, read_key_file(v, it->second)); });
    }
    if (auto it = v.raw().find("server.admin_keys"); it != v.raw().end()) {
        v.attempt([&] {
            add_unique(
                s.admin_keys,
                read_key_list(v, "server.admin_keys", it->second,
                              "remove the line to serve /admin/ on loopback listeners only"));
        });
    }
    s.health_requires_key = v.boolean("server.health_requires_key", s.health_requires_key);
    if (s.health_requires_key && s.api_keys.empty()) {
        v.report("server.health_requires_key",
                 "is true, but no key is configured (server.api_keys or server.api_keys_file)");
    }
    return s;
}

// models.<name>.aliases: comma-separated names (valid_alias). Whether they clash
// with other names is check_aliases' job.
std::vector<std::string> read_aliases(const Validator& v, const std::string& key,
                                      const std::string& text) {
    if (config_values::trim(text).empty()) v.fail(key, "empty (remove the line for no alias)");
    std::vector<std::string> aliases;
    for (std::string_view entry : config::split_list(text)) {
        if (entry.empty()) v.fail(key, "empty entry in '" + text + "' (a stray comma?)");
        if (!config::valid_alias(entry)) {
            v.fail(key, "alias '" + std::string(entry) +
                            "' may use only letters, digits and _ - . : / @ +");
        }
        aliases.emplace_back(entry);
    }
    return aliases;
}

ModelSettings read_model(const Validator& v, const std::string& name,
                         const ServerSettings& server) {
    const std::string prefix = "models." + name + ".";
    // Read here (autostart in resolve_autostart), never passed to the plugin.
    static const std::set<std::string> core_keys = {"backend",
                                                    "ready_timeout",
                                                    "queue_timeout",
                                                    "stop_timeout",
                                                    "liveness.interval",
                                                    "liveness.timeout",
                                                    "liveness.failures",
                                                    "liveness.generate",
                                                    "max_waiting",
                                                    "aliases",
                                                    "listen",
                                                    "autostart",
                                                    "ttl",
                                                    "min_loaded",
                                                    "group",
                                                    "max_concurrent",
                                                    "max_queued",
                                                    "keep_cache",
                                                    "cache_max_mb",
                                                    "cache_timeout"};
    ModelSettings m;
    m.name = name;
    for (const auto& [key, value] : v.raw()) {
        if (key.rfind(prefix, 0) != 0) continue;
        std::string rest = key.substr(prefix.size());
        if (!core_keys.count(rest)) m.backend_config[rest] = value;
    }
    auto backend = v.raw().find(prefix + "backend");
    if (backend == v.raw().end() || backend->second.empty()) {
        v.report(prefix + "backend", "missing (the plugin id, e.g. llama_server)");
    } else {
        m.backend = backend->second;
    }
    m.ready_timeout = v.duration(prefix + "ready_timeout", m.ready_timeout, /*positive=*/true);
    m.queue_timeout = v.duration(prefix + "queue_timeout", m.queue_timeout);
    m.stop_timeout = v.duration(prefix + "stop_timeout", m.stop_timeout);
    m.liveness.interval =
        v.duration(prefix + "liveness.interval", m.liveness.interval, /*positive=*/true);
    m.liveness.timeout =
        v.duration(prefix + "liveness.timeout", m.liveness.timeout, /*positive=*/true);
    m.max_waiting = static_cast<size_t>(
        v.integer(prefix + "max_waiting", std::min(64, server.threads / 4), 0, server.threads));
    m.liveness.failures =
        static_cast<int>(v.integer(prefix + "liveness.failures", m.liveness.failures, 1, 1000));
    m.liveness.generate = v.boolean(prefix + "liveness.generate", m.liveness.generate);
    if (auto it = v.raw().find(prefix + "aliases"); it != v.raw().end()) {
        v.attempt([&] { m.aliases = read_aliases(v, prefix + "aliases", it->second); });
    }
    if (auto it = v.raw().find(prefix + "listen"); it != v.raw().end()) {
        v.attempt([&] {
            m.listen = read_plain_listen(v, prefix + "listen", it->second, server.allow_wildcard,
                                         "https:// is not offered for a model's own listener "
                                         "(plain HTTP only for now); put https:// listeners in "
                                         "server.listen");
        });
    }
    m.ttl = v.duration(prefix + "ttl", m.ttl);
    m.min_loaded = v.duration(prefix + "min_loaded", m.min_loaded);
    m.max_concurrent = static_cast<size_t>(v.integer(
        prefix + "max_concurrent", static_cast<long long>(m.max_concurrent), 0, kMaxThreads));
    m.max_queued = static_cast<size_t>(
        v.integer(prefix + "max_queued", static_cast<long long>(m.max_queued), 0, kMaxThreads));
    m.keep_cache = v.boolean(prefix + "keep_cache", m.keep_cache);
    m.cache_max_mb = static_cast<size_t>(
        v.integer(prefix + "cache_max_mb", static_cast<long long>(m.cache_max_mb), 1, 1LL << 30));
    m.cache_timeout = v.duration(prefix + "cache_timeout", m.cache_timeout, /*positive=*/true);
    if (auto it = v.raw().find(prefix + "group"); it != v.raw().end()) {
        if (it->second.empty()) {
            v.report(prefix + "group", "empty (remove the line for no group)");
        } else {
            m.group = it->second;  // checked against groups.<g> in check_groups
        }
    }
    return m;
}

// groups.<g>.*: the settings of each group named by a groups.<g>. key.
std::vector<GroupSettings> read_groups(const Validator& v, const std::set<std::string>& names) {
    std::vector<GroupSettings> groups;
    for (const auto& name : names) {
        GroupSettings g;
        g.name = name;
        g.exclusive = v.boolean("groups." + name + ".exclusive", g.exclusive);
        groups.push_back(g);
    }
    return groups;
}

// logging.file: a file the engine can append to, or a new one in a directory it can write to.
// Opening it (when the engine starts) is the final word; this catches the usual mistakes early,
// in --check too, without creating anything.
std::string check_log_file(const Validator& v, const std::string& path) {
    if (path.empty()) v.fail("logging.file", "is empty (leave it out to log to stderr only)");
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) v.fail("logging.file", "'" + path + "' is a directory");
        if (access(path.c_str(), W_OK) != 0) {
            v.fail("logging.file", "cannot write to '" + path + "': " + std::strerror(errno));
        }
        return path;
    }
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    if (access(dir.c_str(), W_OK | X_OK) != 0) {
        v.fail("logging.file", "cannot create '" + path + "' (directory '" + dir +
                                   "': " + std::strerror(errno) + ")");
    }
    return path;
}

// `problems` null: throw at the first error (load_config); else collect them all (check_config).
EngineConfig read_config(const std::string& path, std::vector<std::string>* problems) {
    auto conf = open_by_extension(path);
    std::map<std::string, std::string> raw;
    collect_leaves(*conf, path, "", raw);
    Validator v(path, raw, problems);

    static const std::set<std::string> sections = {"server", "models", "groups", "logging",
                                                   "plugins"};
    std::set<std::string> model_names, group_names;
    for (const auto& [key, value] : raw) {
        v.attempt([&, &key = key] {
            std::string section = key.substr(0, key.find('.'));
            if (!sections.count(section)) {
                v.fail(key,
                       "unknown key (top-level sections: server, models, groups, logging, "
                       "plugins)");
            }
            // A bare `server = ...` (or an empty <server/>) would otherwise be silently ignored.
            if (key == "server") v.fail(key, "expected server.<setting>");
            static const std::set<std::string> logging_keys = {
                "logging.level",       "logging.format",    "logging.file",
                "logging.max_size_mb", "logging.max_files", "logging.access"};
            if (section == "logging" && !logging_keys.count(key))
                v.fail(key,
                       "unknown key (known: level, format, file, max_size_mb, max_files, access)");
            if (section == "models") {
                auto dot = key.find('.', 7);
                if (dot == std::string::npos) v.fail(key, "expected models.<name>.<setting>");
                std::string name = key.substr(7, dot - 7);
                if (!config::valid_name(name)) {
                    v.fail(key, "model name '" + name + "' may use only letters, digits, _ and -");
                }
                model_names.insert(name);
            }
            if (section == "groups") {
                auto dot = key.find('.', 7);
                if (dot == std::string::npos) v.fail(key, "expected groups.<name>.<setting>");
                std::string name = key.substr(7, dot - 7);
                if (!config::valid_name(name)) {
                    v.fail(key, "group name '" + name + "' may use only letters, digits, _ and -");
                }
                group_names.insert(name);  // known even if its key is a typo: one error, not two
                if (key.substr(dot + 1) != "exclusive")
                    v.fail(key, "unknown key (known: exclusive)");
            }
        });
    }
    if (model_names.empty()) v.report("models", "no model configured (add models.<name>.backend)");

    EngineConfig config;
    config.source_path = path;
    config.raw = raw;
    // The client and admin keys are the engine's alone: plugins (config_get) never see them.
    config.raw.erase("server.api_keys");
    config.raw.erase("server.admin_keys");
    config.server = read_server(v);
    for (const auto& name : model_names)
        config.models.push_back(read_model(v, name, config.server));
    config.groups = read_groups(v, group_names);
    config::check_aliases(v, config.models);
    config::check_model_listeners(v, config.server, config.models);
    config::check_groups(v, config.groups, config.models);
    config::resolve_autostart(v, config.server, config.models);
    config.server.cache_dir = config::resolve_cache_dir(v, config.models);
    for (auto& m : config.models) {
        if (m.keep_cache && !config.server.cache_dir.empty())
            m.state_dir = config::model_cache_dir(config.server.cache_dir, m.name);
    }
    if (auto it = raw.find("logging.level"); it != raw.end()) {
        static const std::set<std::string> levels = {"trace", "debug", "info",
                                                     "warn",  "error", "off"};
        if (!levels.count(it->second)) {
            v.report("logging.level", "expected trace, debug, info, warn, error or off");
        } else {
            config.log_level = it->second;
        }
    }
    if (auto it = raw.find("logging.format"); it != raw.end()) {
        if (it->second != "text" && it->second != "json") {
            v.report("logging.format", "expected text or json, got '" + it->second + "'");
        } else {
            config.log_format = it->second;
        }
    }
    if (auto it = raw.find("logging.file"); it != raw.end()) {
        v.attempt([&] { config.log_file = check_log_file(v, it->second); });
    }
    config.log_max_size_mb =
        static_cast<int>(v.integer("logging.max_size_mb", config.log_max_size_mb, 1, 1024 * 1024));
    config.log_max_files =
        static_cast<int>(v.integer("logging.max_files", config.log_max_files, 1, 1000));
    config.log_access = v.boolean("logging.access", config.log_access);
    config::check_default_model(v, config.server, config.models);
    return config;
}

}  // namespace

EngineConfig load_config(const std::string& path) {
    return read_config(path, nullptr);
}

EngineConfig check_config(const std::string& path, std::vector<std::string>& problems) {
    try {
        return read_config(path, &problems);
    } catch (const ConfigError& e) {  // the file itself, or a key Poco cannot nest
        problems.push_back(e.what());
        EngineConfig none;
        none.source_path = path;
        return none;
    }
}

}  // namespace gradatum
