// load_config: the four file formats read alike, and every user error names the file and the key.
#include <sys/stat.h>
#include <catch2/catch.hpp>
#include <cstdlib>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "config/config.hpp"
#include "config/listen_addresses.hpp"
#include "temp_dir.hpp"

using ge_test::TempDir;
using gradatum::ConfigError;
using gradatum::ConfigFileError;
using gradatum::EngineConfig;
using gradatum::load_config;
using gradatum::ModelSettings;

namespace {

// The same configuration in each format. `${...}` must come through unexpanded.
const char* const kProperties = R"(# comments sit on their own lines: '#' after a value is value
server.listen = 127.0.0.1:9090, [::1]:9091
server.threads = 32
server.default_model = qwen
logging.level = debug
models.qwen.backend = llama_server
models.qwen.ready_timeout = 120
models.qwen.llama_server.model = /models/qwen.gguf
models.qwen.llama_server.alias = ${server.threads}
models.tiny-2.backend = llama_server
models.tiny-2.queue_timeout = 2.5
models.tiny-2.llama_server.model = ${HOME}/tiny.gguf
)";

const char* const kIni = R"(; comments sit on their own lines
[server]
listen = 127.0.0.1:9090, [::1]:9091
threads = 32
default_model = qwen

[logging]
level = debug

[models.qwen]
backend = llama_server
ready_timeout = 120
llama_server.model = /models/qwen.gguf
llama_server.alias = ${server.threads}

[models.tiny-2]
backend = llama_server
queue_timeout = 2.5
llama_server.model = ${HOME}/tiny.gguf
)";

const char* const kXml = R"(<?xml version="1.0" encoding="UTF-8"?>
<config>
  <!-- the root element's name does not matter -->
  <server>
    <listen>127.0.0.1:9090, [::1]:9091</listen>
    <threads>32</threads>
    <default_model>qwen</default_model>
  </server>
  <logging><level>debug</level></logging>
  <models>
    <qwen>
      <backend>llama_server</backend>
      <ready_timeout>120</ready_timeout>
      <llama_server>
        <model>/models/qwen.gguf</model>
        <alias>${server.threads}</alias>
      </llama_server>
    </qwen>
    <tiny-2>
      <backend>llama_server</backend>
      <queue_timeout>2.5</queue_timeout>
      <llama_server><model>${HOME}/tiny.gguf</model></llama_server>
    </tiny-2>
  </models>
</config>
)";

// Numbers as JSON numbers: users will write them so.
const char* const kJson = R"({
  "server": {"listen": "127.0.0.1:9090, [::1]:9091", "threads": 32, "default_model": "qwen"},
  "logging": {"level": "debug"},
  "models": {
    "qwen": {
      "backend": "llama_server",
      "ready_timeout": 120,
      "llama_server": {"model": "/models/qwen.gguf", "alias": "${server.threads}"}
    },
    "tiny-2": {
      "backend": "llama_server",
      "queue_timeout": 2.5,
      "llama_server": {"model": "${HOME}/tiny.gguf"}
    }
  }
})";

// Every field of the result in one string, so the formats compare with a readable diff.
std::string describe(const EngineConfig& c) {
    std::ostringstream out;
    out << "listen=";
    for (const auto& l : c.server.listen) out << l.host << "|" << l.port << " ";
    out << "allow_wildcard=" << c.server.allow_wildcard << " threads=" << c.server.threads
        << " max_queued=" << c.server.max_queued << " drain=" << c.server.drain_timeout.count()
        << "ms idle=" << c.server.upstream_idle_timeout.count() << "ms"
        << " default=" << c.server.default_model << " log=" << c.log_level << "\n";
    for (const auto& m : c.models) {
        out << "model " << m.name << " backend=" << m.backend
            << " ready=" << m.ready_timeout.count() << " queue=" << m.queue_timeout.count()
            << " stop=" << m.stop_timeout.count() << " liveness=" << m.liveness.interval.count()
            << "/" << m.liveness.timeout.count() << "/" << m.liveness.failures << "\n";
        for (const auto& [key, value] : m.backend_config)
            out << "  " << key << "=" << value << "\n";
    }
    for (const auto& [key, value] : c.raw) out << "raw " << key << "=" << value << "\n";
    return out.str();
}

// Loads `content` from a file named `name` and returns the ConfigError text, or "" if none.
std::string error_of(const TempDir& dir, const std::string& name, const std::string& content) {
    std::string path = dir.write(name, content);
    try {
        load_config(path);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

const char* const kOneModel = "models.qwen.backend = llama_server\n";

}  // namespace

TEST_CASE("properties file is read into typed settings", "[config]") {
    TempDir dir;
    std::string path = dir.write("engine.properties", kProperties);
    EngineConfig c = load_config(path);

    CHECK(c.source_path == path);
    REQUIRE(c.server.listen.size() == 2);
    CHECK(c.server.listen[0].host == "127.0.0.1");
    CHECK(c.server.listen[0].port == 9090);
    CHECK(c.server.listen[1].host == "::1");
    CHECK(c.server.listen[1].port == 9091);
    CHECK_FALSE(c.server.allow_wildcard);
    CHECK(c.server.threads == 32);
    CHECK(c.server.max_queued == 256);  // default
    CHECK(c.server.drain_timeout == std::chrono::milliseconds(30000));
    CHECK(c.server.default_model == "qwen");
    CHECK(c.log_level == "debug");

    REQUIRE(c.models.size() == 2);
    const auto& qwen = c.models[0];  // sorted by name
    CHECK(qwen.name == "qwen");
    CHECK(qwen.backend == "llama_server");
    CHECK(qwen.ready_timeout == std::chrono::milliseconds(120000));
    CHECK(qwen.queue_timeout == std::chrono::milliseconds(30000));
    CHECK(qwen.stop_timeout == std::chrono::milliseconds(10000));
    CHECK(qwen.liveness.interval == std::chrono::milliseconds(10000));
    CHECK(qwen.liveness.timeout == std::chrono::milliseconds(5000));
    CHECK(qwen.liveness.failures == 3);
    // Core keys are consumed; everything else goes to the plugin, keyed below models.<name>.
    CHECK(qwen.backend_config ==
          std::map<std::string, std::string>{{"llama_server.model", "/models/qwen.gguf"},
                                             {"llama_server.alias", "${server.threads}"}});

    const auto& tiny = c.models[1];
    CHECK(tiny.name == "tiny-2");
    CHECK(tiny.ready_timeout == std::chrono::milliseconds(600000));
    CHECK(tiny.queue_timeout == std::chrono::milliseconds(2500));
    CHECK(tiny.backend_config ==
          std::map<std::string, std::string>{{"llama_server.model", "${HOME}/tiny.gguf"}});

    // raw holds every key, values unexpanded, for the plugins' config_get.
    CHECK(c.raw.size() == 11);
    CHECK(c.raw.at("server.listen") == "127.0.0.1:9090, [::1]:9091");
    CHECK(c.raw.at("models.tiny-2.llama_server.model") == "${HOME}/tiny.gguf");
    CHECK(c.raw.at("models.qwen.llama_server.alias") == "${server.threads}");
}

TEST_CASE("the four formats give identical results", "[config]") {
    TempDir dir;
    const std::string expected = describe(load_config(dir.write("a.properties", kProperties)));
    CHECK(describe(load_config(dir.write("a.ini", kIni))) == expected);
    CHECK(describe(load_config(dir.write("a.xml", kXml))) == expected);
    CHECK(describe(load_config(dir.write("a.json", kJson))) == expected);
}

TEST_CASE("upstream keys: connect and header timeouts, keep-alive connections", "[config]") {
    TempDir dir;
    EngineConfig d = load_config(dir.write("d.properties", kOneModel));
    CHECK(d.server.upstream_connect_timeout == std::chrono::milliseconds(5000));
    CHECK(d.server.upstream_header_timeout == std::chrono::milliseconds(600000));
    CHECK(d.server.upstream_keepalive == 32);
    EngineConfig c = load_config(dir.write(
        "c.properties", std::string(kOneModel) + "server.upstream_connect_timeout = 0.25\n"
                                                 "server.upstream_header_timeout = 90\n"
                                                 "server.upstream_keepalive = 0\n"));
    CHECK(c.server.upstream_connect_timeout == std::chrono::milliseconds(250));
    CHECK(c.server.upstream_header_timeout == std::chrono::milliseconds(90000));
    CHECK(c.server.upstream_keepalive == 0);
    const std::string file = dir.path() + "/bad.properties";
    auto error = [&](const std::string& content) {
        return error_of(dir, "bad.properties", content);
    };
    CHECK(error(std::string(kOneModel) + "server.upstream_connect_timeout = 0\n") ==
          file + ": server.upstream_connect_timeout: must be above 0");
    CHECK(error(std::string(kOneModel) + "server.upstream_header_timeout = 0\n") ==
          file + ": server.upstream_header_timeout: must be above 0");
    CHECK(error(std::string(kOneModel) + "server.upstream_keepalive = -1\n") ==
          file + ": server.upstream_keepalive: expected a whole number from 0 to 4096, got '-1'");
}

TEST_CASE("defaults apply when only a model is configured", "[config]") {
    TempDir dir;
    EngineConfig c = load_config(dir.write("min.properties", kOneModel));
    REQUIRE(c.server.listen.size() == 1);
    CHECK(c.server.listen[0].host == "127.0.0.1");
    CHECK(c.server.listen[0].port == 8080);
    CHECK_FALSE(c.server.allow_wildcard);
    CHECK(c.server.threads == 256);
    CHECK(c.server.upstream_idle_timeout == std::chrono::milliseconds(3600000));
    CHECK(c.server.default_model.empty());
    CHECK(c.log_level == "info");
    REQUIRE(c.models.size() == 1);
    CHECK(c.models[0].backend_config.empty());
}

TEST_CASE("durations: 30 days is the most, and a positive value is at least 1 ms", "[config]") {
    TempDir dir;
    auto c = load_config(dir.write("d.properties", std::string(kOneModel) +
                                                       "models.qwen.queue_timeout = 2592000\n"
                                                       "models.qwen.stop_timeout = 0\n"
                                                       "models.qwen.liveness.timeout = 0.0004\n"
                                                       "server.drain_timeout = 1.1\n"));
    CHECK(c.models[0].queue_timeout == std::chrono::hours(24 * 30));
    CHECK(c.models[0].stop_timeout == std::chrono::milliseconds(0));
    // Truncated to 0 ms, Poco would take it as "no timeout" at all.
    CHECK(c.models[0].liveness.timeout == std::chrono::milliseconds(1));
    CHECK(c.server.drain_timeout == std::chrono::milliseconds(1100));
}

TEST_CASE("listen accepts bracketed IPv6 and port 0", "[config]") {
    TempDir dir;
    EngineConfig c = load_config(
        dir.write("v6.properties", std::string("server.listen = [::1]:0\n") + kOneModel));
    REQUIRE(c.server.listen.size() == 1);
    CHECK(c.server.listen[0].host == "::1");
    CHECK(c.server.listen[0].port == 0);
}

TEST_CASE("every core model key is read", "[config]") {
    TempDir dir;
    EngineConfig c = load_config(
        dir.write("m.properties", std::string(kOneModel) + "models.qwen.stop_timeout = 3\n"
                                                           "models.qwen.liveness.interval = 1.5\n"
                                                           "models.qwen.liveness.timeout = 0.5\n"
                                                           "models.qwen.liveness.failures = 7\n"
                                                           "server.max_queued = 9\n"
                                                           "server.drain_timeout = 4\n"
                                                           "server.upstream_idle_timeout = 60\n"));
    REQUIRE(c.models.size() == 1);
    CHECK(c.models[0].stop_timeout == std::chrono::milliseconds(3000));
    CHECK(c.models[0].liveness.interval == std::chrono::milliseconds(1500));
    CHECK(c.models[0].liveness.timeout == std::chrono::milliseconds(500));
    CHECK(c.models[0].liveness.failures == 7);
    CHECK(c.models[0].backend_config.empty());  // none of these is the plugin's
    CHECK(c.server.max_queued == 9);
    CHECK(c.server.drain_timeout == std::chrono::milliseconds(4000));
    CHECK(c.server.upstream_idle_timeout == std::chrono::milliseconds(60000));
}

TEST_CASE("config errors name the file and the full key", "[config]") {
    TempDir dir;
    const std::string file = dir.path() + "/bad.properties";
    auto error = [&](const std::string& content) {
        return error_of(dir, "bad.properties", content);
    };

    SECTION("unknown key under server.") {
        CHECK(error(std::string(kOneModel) + "server.listn = 1.2.3.4:5\n") ==
              file +
                  ": server.listn: unknown key (known: listen, allow_wildcard, threads, "
                  "max_queued, max_connections, drain_timeout, upstream_idle_timeout, "
                  "default_model, max_body_mb, max_header_bytes, max_headers, header_timeout, "
                  "keep_alive_timeout, client_idle_timeout, client_send_timeout, api_keys, "
                  "api_keys_file, health_requires_key, tls.cert, tls.key, tls.ca, "
                  "tls.min_version, metrics_listen, metrics_children, upstream_connect_timeout, "
                  "upstream_header_timeout, upstream_keepalive, fast_lane, event_threads, "
                  "admin_keys, "
                  "max_running, "
                  "max_wait_for_swap, cache_dir)");
    }
    SECTION("unknown top-level section") {
        CHECK(error(std::string(kOneModel) + "daemon.user = nobody\n") ==
              file +
                  ": daemon.user: unknown key (top-level sections: server, models, groups, "
                  "logging, plugins)");
    }
    SECTION("a value for the whole server section") {
        // Would otherwise be dropped in silence, leaving the engine on 127.0.0.1:8080.
        CHECK(error(std::string(kOneModel) + "server = 0.0.0.0:9000\n") ==
              file + ": server: expected server.<setting>");
    }
    SECTION("unknown key under logging.") {
        CHECK(error(std::string(kOneModel) + "logging.colour = yes\n") ==
              file +
                  ": logging.colour: unknown key (known: level, format, file, max_size_mb, "
                  "max_files, access)");
    }
    SECTION("listen without a port") {
        CHECK(error(std::string(kOneModel) + "server.listen = localhost\n") ==
              file + ": server.listen: expected host:port, got 'localhost'");
    }
    SECTION("listen without a host") {
        CHECK(error(std::string(kOneModel) + "server.listen = :8080\n") ==
              file + ": server.listen: expected host:port, got ':8080'");
    }
    SECTION("listen port out of range") {
        CHECK(error(std::string(kOneModel) + "server.listen = 127.0.0.1:65536\n") ==
              file + ": server.listen: expected host:port, got '127.0.0.1:65536'");
    }
    SECTION("listen port not a number") {
        CHECK(error(std::string(kOneModel) + "server.listen = 127.0.0.1:80x\n") ==
              file + ": server.listen: expected host:port, got '127.0.0.1:80x'");
    }
    SECTION("seconds that are not a number") {
        CHECK(error(std::string(kOneModel) + "models.qwen.ready_timeout = abc\n") ==
              file +
                  ": models.qwen.ready_timeout: expected a number of seconds from 0 to 2592000 (30 "
                  "days), got 'abc'");
    }
    SECTION("seconds with trailing garbage") {
        CHECK(error(std::string(kOneModel) + "models.qwen.queue_timeout = 10s\n") ==
              file +
                  ": models.qwen.queue_timeout: expected a number of seconds from 0 to 2592000 (30 "
                  "days), got '10s'");
    }
    SECTION("an empty key component (found by fuzzing: it recursed forever)") {
        CHECK(error(std::string(kOneModel) + "models.qwen..x = 1\n") ==
              file + ": models.qwen.: empty key name");
    }
    SECTION("seconds past 30 days") {
        CHECK(error(std::string(kOneModel) + "models.qwen.queue_timeout = 2592000.001\n") ==
              file +
                  ": models.qwen.queue_timeout: expected a number of seconds from 0 to 2592000 "
                  "(30 days), got '2592000.001'");
        CHECK(error(std::string(kOneModel) + "server.upstream_idle_timeout = 1e300\n") ==
              file +
                  ": server.upstream_idle_timeout: expected a number of seconds from 0 to 2592000 "
                  "(30 days), got '1e300'");
    }
    SECTION("a timeout that must wait cannot be 0") {
        CHECK(error(std::string(kOneModel) + "server.upstream_idle_timeout = 0\n") ==
              file + ": server.upstream_idle_timeout: must be above 0");
        CHECK(error(std::string(kOneModel) + "models.qwen.ready_timeout = 0\n") ==
              file + ": models.qwen.ready_timeout: must be above 0");
    }
    SECTION("negative seconds") {
        CHECK(error(std::string(kOneModel) + "server.drain_timeout = -1\n") ==
              file +
                  ": server.drain_timeout: expected a number of seconds from 0 to 2592000 (30 "
                  "days), got '-1'");
    }
    SECTION("whole number below its minimum") {
        CHECK(error(std::string(kOneModel) + "server.threads = 2\n") ==
              file + ": server.threads: expected a whole number from 4 to 10000, got '2'");
    }
    SECTION("whole number with a fraction") {
        CHECK(error(std::string(kOneModel) + "models.qwen.liveness.failures = 1.5\n") ==
              file +
                  ": models.qwen.liveness.failures: expected a whole number from 1 to 1000, "
                  "got '1.5'");
    }
    SECTION("zero liveness interval") {
        CHECK(error(std::string(kOneModel) + "models.qwen.liveness.interval = 0\n") ==
              file + ": models.qwen.liveness.interval: must be above 0");
    }
    SECTION("zero liveness timeout") {
        CHECK(error(std::string(kOneModel) + "models.qwen.liveness.timeout = 0\n") ==
              file + ": models.qwen.liveness.timeout: must be above 0");
    }
    SECTION("missing backend") {
        CHECK(error("models.qwen.llama_server.model = /m.gguf\n") ==
              file + ": models.qwen.backend: missing (the plugin id, e.g. llama_server)");
    }
    SECTION("empty backend") {
        CHECK(error("models.qwen.backend =\n") ==
              file + ": models.qwen.backend: missing (the plugin id, e.g. llama_server)");
    }
    SECTION("bad model name") {
        CHECK(error("models.qw@n.backend = llama_server\n") ==
              file +
                  ": models.qw@n.backend: model name 'qw@n' may use only letters, digits, _ and -");
    }
    SECTION("model key without a setting") {
        CHECK(error("models.qwen = llama_server\n") ==
              file + ": models.qwen: expected models.<name>.<setting>");
    }
    SECTION("no models") {
        CHECK(error("server.listen = 127.0.0.1:8080\n") ==
              file + ": models: no model configured (add models.<name>.backend)");
    }
    SECTION("bad logging level") {
        CHECK(error(std::string(kOneModel) + "logging.level = loud\n") ==
              file + ": logging.level: expected trace, debug, info, warn, error or off");
    }
    SECTION("default model that does not exist") {
        CHECK(error(std::string(kOneModel) + "server.default_model = llama\n") ==
              file + ": server.default_model: no model named 'llama'");
    }
}

TEST_CASE("errors name the key in every format", "[config]") {
    TempDir dir;
    CHECK(error_of(dir, "e.ini", "[models.qwen]\nbackend = llama_server\nready_timeout = abc\n") ==
          dir.path() +
              "/e.ini: models.qwen.ready_timeout: expected a number of seconds from 0 to 2592000 "
              "(30 days), got 'abc'");
    CHECK(error_of(dir, "e.xml",
                   "<c><models><qwen><backend>llama_server</backend>"
                   "<ready_timeout>abc</ready_timeout></qwen></models></c>") ==
          dir.path() +
              "/e.xml: models.qwen.ready_timeout: expected a number of seconds from 0 to 2592000 "
              "(30 days), got 'abc'");
    CHECK(
        error_of(dir, "e.json",
                 R"({"models": {"qwen": {"backend": "llama_server", "ready_timeout": "abc"}}})") ==
        dir.path() +
            "/e.json: models.qwen.ready_timeout: expected a number of seconds from 0 to 2592000 "
            "(30 days), got 'abc'");
}

TEST_CASE("server given as a value is an error in JSON and XML too", "[config]") {
    TempDir dir;
    CHECK(error_of(dir, "s.json",
                   R"({"server": "0.0.0.0:9000", "models": {"q": {"backend": "llama_server"}}})") ==
          dir.path() + "/s.json: server: expected server.<setting>");
    // Attributes are not read: <server listen="..."/> must not pass as an empty section.
    CHECK(error_of(dir, "s.xml",
                   "<c><server listen=\"0.0.0.0:9000\"/>"
                   "<models><q><backend>llama_server</backend></q></models></c>") ==
          dir.path() + "/s.xml: server: expected server.<setting>");
}

TEST_CASE("the shipped example configs load", "[config]") {
    const std::string dir = GE_EXAMPLE_CONFIG_DIR;
    EngineConfig properties = load_config(dir + "/gradatum-engine.properties");
    EngineConfig ini = load_config(dir + "/gradatum-engine.ini");
    for (const EngineConfig* c : {&properties, &ini}) {
        CAPTURE(c->source_path);
        REQUIRE(c->server.listen.size() == 1);
        CHECK(c->server.listen[0].host == "127.0.0.1");
        CHECK(c->server.listen[0].port == 8080);
        REQUIRE(c->models.size() == 1);
        CHECK(c->models[0].name == "chat");
        CHECK(c->models[0].backend == "llama_server");
        CHECK(c->models[0].backend_config.at("llama_server.model") ==
              "/srv/models/qwen2.5-0.5b-instruct-q4_k_m.gguf");
    }
}

TEST_CASE("every key commented out in the .properties example is a valid key", "[config]") {
    // Users uncomment these lines; none may turn into an "unknown key" error.
    std::ifstream in(std::string(GE_EXAMPLE_CONFIG_DIR) + "/gradatum-engine.properties");
    REQUIRE(in);
    TempDir dir;
    // The key file the example names does not exist here: a private one stands in for it.
    const std::string keys = dir.write("api-keys", "# example\nchange-me-3\n");
    REQUIRE(chmod(keys.c_str(), 0600) == 0);
    // Likewise the TLS files (only their presence and mode are checked here), for an https://
    // listener added to the example's plain one.
    const std::string cert = dir.write("server.pem", "certificate");
    const std::string key = dir.write("server.key", "key");
    REQUIRE(chmod(key.c_str(), 0600) == 0);
    std::string text, line;
    int uncommented = 0;
    bool key_file_line = false;
    int tls_lines = 0;
    int logging_lines = 0;
    const std::string log_file = dir.path() + "/engine.log";
    while (std::getline(in, line)) {
        if (line.rfind("#server.", 0) == 0 || line.rfind("#models.", 0) == 0 ||
            line.rfind("#logging.", 0) == 0 || line.rfind("#groups.", 0) == 0) {
            line.erase(0, 1);
            ++uncommented;
        }
        // The example's log directory does not exist here: a file in the temp dir stands in.
        if (line.rfind("logging.file = ", 0) == 0) line = "logging.file = " + log_file;
        if (line.rfind("logging.", 0) == 0) ++logging_lines;
        if (line.rfind("server.api_keys_file = ", 0) == 0) {
            line = "server.api_keys_file = " + keys;
            key_file_line = true;
        }
        if (line.rfind("server.listen = ", 0) == 0) line += ", https://127.0.0.1:8443";
        for (const auto& [name, path] :
             {std::pair<std::string, std::string>{"cert", cert}, {"key", key}, {"ca", cert}}) {
            if (line.rfind("server.tls." + name + " = ", 0) == 0) {
                line = "server.tls." + name + " = " + path;
                ++tls_lines;
            }
        }
        text += line + "\n";
    }
    CHECK(uncommented >= 5);
    CHECK(key_file_line);
    CHECK(tls_lines == 3);
    CHECK(logging_lines >= 5);  // level, format, file, max_size_mb, max_files
    EngineConfig c = load_config(dir.write("all.properties", text));
    CHECK(c.server.default_model == "chat");
    CHECK(c.log_file == log_file);
    CHECK(c.log_format == "json");
    CHECK(c.server.api_keys ==
          std::vector<std::string>{"change-me-1", "change-me-2", "change-me-3"});
    // "chat" (llama_server), "other" (the command backend's keys) and "big" (a remote target).
    REQUIRE(c.models.size() == 3);
    auto model = [&](const std::string& name) -> const ModelSettings& {
        for (const auto& m : c.models) {
            if (m.name == name) return m;
        }
        FAIL("no model " << name);
        throw std::logic_error("not reached");
    };
    const ModelSettings& chat = model("chat");
    CHECK(chat.backend_config.at("llama_server.api_key") == "change-me");
    // The many-models keys are the core's: none reaches the plugin.
    CHECK(chat.group == "gpu");
    CHECK(chat.listen.has_value());
    CHECK(chat.backend_config.count("aliases") == 0);
    CHECK(chat.backend_config.count("liveness.generate") == 0);
    const ModelSettings& other = model("other");
    CHECK(other.backend == "command");
    for (const char* key :
         {"command.argv", "command.workdir", "command.port_env", "command.key_env",
          "command.env.PYTHONUNBUFFERED", "command.health_path", "command.ready_status",
          "command.header.X-Extra"}) {
        CHECK(other.backend_config.count(key) == 1);
    }
    const ModelSettings& big = model("big");
    CHECK(big.backend == "remote");
    CHECK(big.backend_config.at("remote.url") == "http://192.168.1.30:8080");
    CHECK(big.backend_config.size() == 5);  // url, health_path, api_key, retry_interval, retry_max
    REQUIRE(c.groups.size() == 1);
    CHECK(c.groups[0].exclusive);
}

TEST_CASE("a file that cannot be read or parsed is a ConfigFileError", "[config]") {
    TempDir dir;
    SECTION("unsupported extension") {
        std::string path = dir.write("engine.yaml", "server:\n  listen: 1.2.3.4:5\n");
        CHECK_THROWS_MATCHES(
            load_config(path), ConfigFileError,
            Catch::Message(path +
                           ": unsupported config format '.yaml' (use .properties, .ini, .xml or "
                           ".json)"));
    }
    SECTION("missing file") {
        std::string path = dir.path() + "/nowhere.properties";
        CHECK_THROWS_MATCHES(load_config(path), ConfigFileError,
                             Catch::Message(path + ": cannot read config file"));
    }
    SECTION("broken JSON") {
        std::string path = dir.write("broken.json", "{\"server\": ");
        CHECK_THROWS_AS(load_config(path), ConfigFileError);
        CHECK_THROWS_WITH(load_config(path),
                          Catch::StartsWith(path + ": cannot parse config file: "));
    }
    SECTION("broken XML") {
        std::string path = dir.write("broken.xml", "<config><server></config>");
        CHECK_THROWS_AS(load_config(path), ConfigFileError);
        CHECK_THROWS_WITH(load_config(path),
                          Catch::StartsWith(path + ": cannot parse config file: "));
    }
}

TEST_CASE("config_error_text has one format", "[config]") {
    CHECK(gradatum::config_error_text("f.ini", "server.listen", "bad") ==
          "f.ini: server.listen: bad");
    CHECK(gradatum::config_error_text("f.ini", "", "bad") == "f.ini: bad");
}

// ---------------------------------------------------------------- server.listen, fail-closed

namespace {

using gradatum::ListenAddress;
using gradatum::config::AddressKind;
using gradatum::config::classify_address;
using gradatum::config::ListenOptions;
using gradatum::config::ListenSpecError;
using gradatum::config::parse_listen_list;

// The listeners load_config makes of `listen` (and `extra` lines), as "host|port" strings.
std::vector<std::string> listeners(const std::string& listen, const std::string& extra = "") {
    TempDir dir;
    auto c = load_config(dir.write(
        "l.properties", std::string(kOneModel) + "server.listen = " + listen + "\n" + extra));
    std::vector<std::string> out;
    for (const auto& l : c.server.listen) out.push_back(l.host + "|" + std::to_string(l.port));
    return out;
}

// The ConfigError load_config gives for `listen`, without the file name.
std::string listen_error(const std::string& listen, const std::string& extra = "") {
    TempDir dir;
    std::string path = dir.path() + "/l.properties";
    std::string text = error_of(
        dir, "l.properties", std::string(kOneModel) + "server.listen = " + listen + "\n" + extra);
    if (text.rfind(path + ": ", 0) == 0) text.erase(0, path.size() + 2);
    return text;
}

std::string refusal(const ListenOptions& options, const std::string& text) {
    try {
        parse_listen_list(text, options);
    } catch (const ListenSpecError& e) {
        return e.what();
    }
    return "no error";
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("listen takes a comma-separated list of IPv4 and bracketed IPv6 addresses", "[config]") {
    CHECK(listeners("127.0.0.1:8080, 192.168.1.20:8080 ,[::1]:8080,10.0.0.1:0") ==
          Strings{"127.0.0.1|8080", "192.168.1.20|8080", "::1|8080", "10.0.0.1|0"});
    // IPv6 in canonical form; a scope stays.
    CHECK(listeners("[0:0:0:0:0:0:0:1]:9, [FE80::1%lo]:9") == Strings{"::1|9", "fe80::1%lo|9"});
    // The same port on several addresses, several ports on one address.
    CHECK(listeners("127.0.0.1:1, 127.0.0.1:2, [::1]:1") ==
          Strings{"127.0.0.1|1", "127.0.0.1|2", "::1|1"});
    // Port 0 (any free port) stays legal: the tests use it.
    CHECK(listeners("127.0.0.1:0") == Strings{"127.0.0.1|0"});
}

TEST_CASE("a host name in listen is resolved now, one listener per address", "[config]") {
    // localhost comes from /etc/hosts: 127.0.0.1, and ::1 where IPv6 is configured.
    auto names = listeners("localhost:0");
    REQUIRE_FALSE(names.empty());
    CHECK(std::find(names.begin(), names.end(), "127.0.0.1|0") != names.end());
    for (const auto& n : names) {
        CAPTURE(n);
        CHECK((n == "127.0.0.1|0" || n == "::1|0"));
    }
    // A name that does not resolve: refused, naming the key and the name.
    std::string unresolved = listen_error("127.0.0.1:8080, no-such-host.invalid:8080");
    CHECK_THAT(unresolved,
               Catch::StartsWith("server.listen: 'no-such-host.invalid:8080': cannot resolve host "
                                 "name 'no-such-host.invalid' ("));
    // A name that resolves to an address listed already is a duplicate.
    CHECK(listen_error("127.0.0.1:7, localhost:7") ==
          "server.listen: 127.0.0.1:7 ('localhost:7' resolves to it) is listed more than once");
}

TEST_CASE("listen refuses wildcard addresses unless allow_wildcard is set", "[config]") {
    const std::string advice =
        " is a wildcard address (every interface of this machine); list the specific addresses "
        "to listen on, or set server.allow_wildcard = true to accept every interface";
    CHECK(listen_error("0.0.0.0:8080") == "server.listen: 0.0.0.0:8080" + advice);
    CHECK(listen_error("[::]:8080") == "server.listen: [::]:8080" + advice);
    CHECK(listen_error("[::ffff:0.0.0.0]:8080") == "server.listen: [::ffff:0.0.0.0]:8080" + advice);
    CHECK(listen_error("[0::0]:8080") == "server.listen: [0::0]:8080" + advice);
    // Among specific ones, the wildcard is named.
    CHECK(listen_error("127.0.0.1:8080, 0.0.0.0:9090") == "server.listen: 0.0.0.0:9090" + advice);
    CHECK(listen_error("0.0.0.0:8080", "server.allow_wildcard = false\n") ==
          "server.listen: 0.0.0.0:8080" + advice);

    CHECK(listeners("0.0.0.0:8080", "server.allow_wildcard = true\n") == Strings{"0.0.0.0|8080"});
    CHECK(listeners("[::]:8080", "server.allow_wildcard = yes\n") == Strings{"::|8080"});
    // An IPv4 wildcard leaves IPv6 addresses alone.
    CHECK(listeners("0.0.0.0:8080, [::1]:8080", "server.allow_wildcard = true\n") ==
          Strings{"0.0.0.0|8080", "::1|8080"});
    TempDir dir;
    CHECK(load_config(dir.write("w.properties", std::string(kOneModel) +
                                                    "server.listen = 0.0.0.0:1\n"
                                                    "server.allow_wildcard = on\n"))
              .server.allow_wildcard);
}

TEST_CASE("a wildcard and another listener on its port are refused: it could not bind",
          "[config]") {
    const std::string allow = "server.allow_wildcard = true\n";
    CHECK(listen_error("0.0.0.0:8080, 127.0.0.1:8080", allow) ==
          "server.listen: 127.0.0.1:8080 overlaps the wildcard 0.0.0.0:8080, which takes port "
          "8080 on every address");
    // :: is dual-stack: it takes IPv4 addresses too.
    CHECK(listen_error("[::]:8080, 127.0.0.1:8080", allow) ==
          "server.listen: 127.0.0.1:8080 overlaps the wildcard [::]:8080, which takes port 8080 "
          "on every address");
    CHECK(listen_error("[::]:8080, 0.0.0.0:8080", allow) ==
          "server.listen: 0.0.0.0:8080 overlaps the wildcard [::]:8080, which takes port 8080 on "
          "every address");
    // Other ports, and port 0, do not overlap.
    CHECK(listeners("0.0.0.0:8080, 127.0.0.1:8081, 0.0.0.0:0, 127.0.0.1:0", allow).size() == 4);
}

TEST_CASE("listen refuses broadcast and multicast addresses, allow_wildcard or not", "[config]") {
    for (const std::string extra : {"", "server.allow_wildcard = true\n"}) {
        CAPTURE(extra);
        CHECK(listen_error("255.255.255.255:8080", extra) ==
              "server.listen: 255.255.255.255:8080 is a broadcast address, not one to listen on");
        CHECK(listen_error("224.0.0.1:8080", extra) ==
              "server.listen: 224.0.0.1:8080 is a multicast address, not one to listen on");
        CHECK(listen_error("239.255.255.250:1900", extra) ==
              "server.listen: 239.255.255.250:1900 is a multicast address, not one to listen on");
        CHECK(listen_error("[ff02::1]:8080", extra) ==
              "server.listen: [ff02::1]:8080 is a multicast address, not one to listen on");
        CHECK(listen_error("[::ffff:224.0.0.1]:8080", extra) ==
              "server.listen: [::ffff:224.0.0.1]:8080 is a multicast address, not one to listen "
              "on");
        CHECK(listen_error("[::ffff:255.255.255.255]:8080", extra) ==
              "server.listen: [::ffff:255.255.255.255]:8080 is a broadcast address, not one to "
              "listen on");
    }
    // Just below and above the multicast range are specific addresses.
    CHECK(listeners("223.255.255.255:1, 240.0.0.1:1") ==
          Strings{"223.255.255.255|1", "240.0.0.1|1"});
}

TEST_CASE("listen refuses the subnet broadcast addresses of this machine's interfaces",
          "[config]") {
    // Injected, so that the rule is tested on any machine.
    ListenOptions options;
    options.subnet_broadcasts = {"192.168.1.255"};
    CHECK(refusal(options, "192.168.1.20:8080, 192.168.1.255:8080") ==
          "192.168.1.255:8080 is a broadcast address, not one to listen on");
    CHECK(refusal(options, "[::ffff:192.168.1.255]:8080") ==
          "[::ffff:192.168.1.255]:8080 is a broadcast address, not one to listen on");
    CHECK(parse_listen_list("192.168.1.254:8080", options).size() == 1);
    // And load_config reads them from the interfaces (getifaddrs).
    auto broadcasts = gradatum::config::interface_broadcasts();
    if (broadcasts.empty()) WARN("no interface with a broadcast address on this machine");
    for (const auto& b : broadcasts) {
        CHECK(listen_error(b + ":8080") ==
              "server.listen: " + b + ":8080 is a broadcast address, not one to listen on");
    }
}

TEST_CASE("listen refuses duplicates, also when written differently", "[config]") {
    CHECK(listen_error("127.0.0.1:8080, 127.0.0.1:8080") ==
          "server.listen: 127.0.0.1:8080 is listed more than once");
    CHECK(listen_error("[::1]:8080, [0:0::1]:8080") ==
          "server.listen: [0:0::1]:8080 is listed more than once");
    CHECK(listen_error("127.0.0.1:0, 127.0.0.1:0") ==
          "server.listen: 127.0.0.1:0 is listed more than once");
}

TEST_CASE("listen syntax errors name the entry", "[config]") {
    CHECK(listen_error("127.0.0.1:8080,") ==
          "server.listen: empty entry in '127.0.0.1:8080,' (a stray comma?)");
    CHECK(listen_error("127.0.0.1:8080,,[::1]:8080") ==
          "server.listen: empty entry in '127.0.0.1:8080,,[::1]:8080' (a stray comma?)");
    CHECK(listen_error("127.0.0.1:8080, localhost") ==
          "server.listen: expected host:port, got 'localhost'");
    CHECK(listen_error("::1:8080") ==
          "server.listen: '::1:8080': an IPv6 address goes in brackets, e.g. [::1]:8080");
    CHECK(listen_error("[127.0.0.1]:8080") ==
          "server.listen: '[127.0.0.1]:8080': only an IPv6 address goes in brackets, e.g. "
          "[::1]:8080");
    CHECK(listen_error("[not-v6]:8080") ==
          "server.listen: '[not-v6]:8080': only an IPv6 address goes in brackets, e.g. "
          "[::1]:8080");
    // Numeric shorthand that inet_aton would take (127.1, 0) is not guessed at.
    CHECK(listen_error("127.1:8080") == "server.listen: '127.1:8080': not an IPv4 address");
    CHECK(listen_error("0:8080") == "server.listen: '0:8080': not an IPv4 address");
    CHECK(listen_error("127.0.0.256:8080") ==
          "server.listen: '127.0.0.256:8080': not an IPv4 address");
    CHECK(listen_error("127.0.0.1:8080", "server.allow_wildcard = maybe\n") ==
          "server.allow_wildcard: expected true or false, got 'maybe'");
}

TEST_CASE("classify_address", "[config]") {
    const std::set<std::string> none;
    CHECK(classify_address("127.0.0.1", none) == AddressKind::specific);
    CHECK(classify_address("10.1.2.3", none) == AddressKind::specific);
    CHECK(classify_address("0.0.0.0", none) == AddressKind::wildcard);
    CHECK(classify_address("::", none) == AddressKind::wildcard);
    CHECK(classify_address("::ffff:0.0.0.0", none) == AddressKind::wildcard);
    CHECK(classify_address("255.255.255.255", none) == AddressKind::broadcast);
    CHECK(classify_address("10.1.2.255", none) == AddressKind::specific);  // not on this list
    CHECK(classify_address("10.1.2.255", {"10.1.2.255"}) == AddressKind::broadcast);
    CHECK(classify_address("224.0.0.0", none) == AddressKind::multicast);
    CHECK(classify_address("239.255.255.255", none) == AddressKind::multicast);
    CHECK(classify_address("ff05::2", none) == AddressKind::multicast);
    CHECK(classify_address("::1", none) == AddressKind::specific);
    CHECK(classify_address("fe80::1%lo", none) == AddressKind::specific);
    CHECK(classify_address("::ffff:127.0.0.1", none) == AddressKind::specific);
    CHECK_THROWS_AS(classify_address("localhost", none), std::invalid_argument);
}

// ---------------------------------------------------------------- client API keys

namespace {

// A key file with `mode` (chmod), in `dir`.
std::string key_file(const TempDir& dir, const std::string& content, mode_t mode,
                     const std::string& name = "keys") {
    std::string path = dir.write(name, content);
    REQUIRE(chmod(path.c_str(), mode) == 0);
    return path;
}

EngineConfig with_keys(const TempDir& dir, const std::string& lines) {
    return load_config(dir.write("k.properties", std::string(kOneModel) + lines));
}

// The ConfigError for `lines`, without the config file's name; it must name no secret in
// `secrets`.
std::string keys_error(const TempDir& dir, const std::string& lines,
                       const std::vector<std::string>& secrets) {
    std::string path = dir.path() + "/k.properties";
    std::string text = error_of(dir, "k.properties", std::string(kOneModel) + lines);
    for (const auto& secret : secrets) {
        CAPTURE(secret);
        CHECK(text.find(secret) == std::string::npos);
    }
    if (text.rfind(path + ": ", 0) == 0) text.erase(0, path.size() + 2);
    return text;
}

}  // namespace

TEST_CASE("no client keys by default, /health open", "[config][keys]") {
    TempDir dir;
    auto c = with_keys(dir, "");
    CHECK(c.server.api_keys.empty());
    CHECK_FALSE(c.server.health_requires_key);
}

TEST_CASE("server.api_keys is a comma-separated list", "[config][keys]") {
    TempDir dir;
    auto c = with_keys(dir, "server.api_keys = sk-one, sk-two ,sk-three\n");
    CHECK(c.server.api_keys == Strings{"sk-one", "sk-two", "sk-three"});
    // The keys never reach the plugins' config_get.
    CHECK(c.raw.count("server.api_keys") == 0);
    CHECK(c.raw.count("models.qwen.backend") == 1);
    // Any visible character is part of a key, '#' and '=' included.
    CHECK(with_keys(dir, "server.api_keys = a#b=c\n").server.api_keys == Strings{"a#b=c"});
}

TEST_CASE("server.api_keys_file: one key per line, comments and blank lines skipped",
          "[config][keys]") {
    TempDir dir;
    std::string path = key_file(dir,
                                "# client keys\n"
                                "sk-file-1\n"
                                "\n"
                                "   sk-file-2   \r\n"
                                "  # indented comment\n"
                                "sk-one\n"
                                "sk-#3",  // no newline at the end
                                0600);
    auto c =
        with_keys(dir, "server.api_keys = sk-one, sk-two\nserver.api_keys_file = " + path + "\n");
    // The list first, then the file; a key in both counts once.
    CHECK(c.server.api_keys == Strings{"sk-one", "sk-two", "sk-file-1", "sk-file-2", "sk-#3"});
    // The path is not a secret.
    CHECK(c.raw.at("server.api_keys_file") == path);
    // Owner-only modes are fine, execute bits too.
    for (mode_t mode : {0400, 0600, 0700}) {
        CAPTURE(mode);
        REQUIRE(chmod(path.c_str(), mode) == 0);
        CHECK(with_keys(dir, "server.api_keys_file = " + path + "\n").server.api_keys.size() == 4);
    }
}

TEST_CASE("a key file other users can read or write is refused", "[config][keys]") {
    TempDir dir;
    for (mode_t mode : {0640, 0604, 0620, 0602, 0644, 0666}) {
        CAPTURE(mode);
        std::string path = key_file(dir, "sk-secret-1\n", mode);
        char octal[8];
        std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
        CHECK(keys_error(dir, "server.api_keys_file = " + path + "\n", {"sk-secret-1"}) ==
              "server.api_keys_file: " + path + " is readable or writable by other users (mode " +
                  octal + "); allow only its owner: chmod 600 " + path);
    }
}

TEST_CASE("a key file that is missing, not a file, or holds no key is refused", "[config][keys]") {
    TempDir dir;
    const std::string missing = dir.path() + "/no-such-keys";
    CHECK(keys_error(dir, "server.api_keys_file = " + missing + "\n", {}) ==
          "server.api_keys_file: file not found: " + missing);
    CHECK(keys_error(dir, "server.api_keys_file = " + dir.path() + "\n", {}) ==
          "server.api_keys_file: not a regular file: " + dir.path());
    CHECK(keys_error(dir, "server.api_keys_file =\n", {}) ==
          "server.api_keys_file: empty (the path of a file with one key per line)");
    std::string comments = key_file(dir, "# nothing yet\n\n   \n", 0600, "comments");
    CHECK(keys_error(dir, "server.api_keys_file = " + comments + "\n", {}) ==
          "server.api_keys_file: " + comments + " holds no key (only comments or blank lines)");
    std::string spaced = key_file(dir, "sk-good\nsk-half other-half\n", 0600, "spaced");
    CHECK(keys_error(dir, "server.api_keys_file = " + spaced + "\n",
                     {"sk-good", "sk-half", "other-half"}) ==
          "server.api_keys_file: " + spaced +
              " line 2: a key may not contain spaces or control characters");
    std::string control = key_file(dir, "sk-\x01-ctl\n", 0600, "control");
    CHECK(keys_error(dir, "server.api_keys_file = " + control + "\n", {"-ctl"}) ==
          "server.api_keys_file: " + control +
              " line 1: a key may not contain spaces or control characters");
}

TEST_CASE("server.api_keys errors name keys by position, never by value", "[config][keys]") {
    TempDir dir;
    CHECK(keys_error(dir, "server.api_keys =\n", {}) ==
          "server.api_keys: empty (remove the line to run without client keys)");
    CHECK(keys_error(dir, "server.api_keys = sk-aaa,,sk-bbb\n", {"sk-aaa", "sk-bbb"}) ==
          "server.api_keys: key 2 is empty (a stray comma?)");
    CHECK(keys_error(dir, "server.api_keys = sk-aaa,\n", {"sk-aaa"}) ==
          "server.api_keys: key 2 is empty (a stray comma?)");
    CHECK(keys_error(dir, "server.api_keys = sk-aaa, sk-b bb\n", {"sk-aaa", "sk-b", "bb"}) ==
          "server.api_keys: key 2 contains a space or a control character");
}

TEST_CASE("server.health_requires_key", "[config][keys]") {
    TempDir dir;
    CHECK(with_keys(dir, "server.api_keys = k1\nserver.health_requires_key = true\n")
              .server.health_requires_key);
    CHECK_FALSE(with_keys(dir, "server.api_keys = k1\nserver.health_requires_key = no\n")
                    .server.health_requires_key);
    CHECK(keys_error(dir, "server.health_requires_key = true\n", {}) ==
          "server.health_requires_key: is true, but no key is configured (server.api_keys or "
          "server.api_keys_file)");
    CHECK(keys_error(dir, "server.api_keys = k1\nserver.health_requires_key = sometimes\n", {}) ==
          "server.health_requires_key: expected true or false, got 'sometimes'");
}

TEST_CASE("client keys read alike in every format", "[config][keys]") {
    TempDir dir;
    std::string path = key_file(dir, "sk-f\n", 0600);
    auto ini =
        load_config(dir.write("k.ini", "[server]\napi_keys = sk-a, sk-b\napi_keys_file = " + path +
                                           "\nhealth_requires_key = yes\n"
                                           "[models.qwen]\nbackend = llama_server\n"));
    auto json = load_config(
        dir.write("k.json", R"({"server": {"api_keys": "sk-a, sk-b", "api_keys_file": ")" + path +
                                R"(", "health_requires_key": true},
                               "models": {"qwen": {"backend": "llama_server"}}})"));
    auto xml = load_config(dir.write(
        "k.xml", "<c><server><api_keys>sk-a, sk-b</api_keys><api_keys_file>" + path +
                     "</api_keys_file><health_requires_key>on</health_requires_key></server>"
                     "<models><qwen><backend>llama_server</backend></qwen></models></c>"));
    for (const EngineConfig* c : {&ini, &json, &xml}) {
        CAPTURE(c->source_path);
        CHECK(c->server.api_keys == Strings{"sk-a", "sk-b", "sk-f"});
        CHECK(c->server.health_requires_key);
        CHECK(c->raw.count("server.api_keys") == 0);
    }
}

TEST_CASE("check_config collects every problem where load_config throws the first",
          "[config][check]") {
    TempDir dir;
    std::string path = dir.write("engine.properties",
                                 "server.threads = many\n"
                                 "server.colour = blue\n"
                                 "server.health_requires_key = true\n"
                                 "logging.level = loud\n"
                                 "models.m.ready_timeout = 0\n"
                                 "models.m.llama_server.model = /m.gguf\n");
    std::vector<std::string> problems;
    EngineConfig config = gradatum::check_config(path, problems);
    CAPTURE(problems);
    REQUIRE(problems.size() == 6);
    CHECK(problems[0] == path + ": server.colour: unknown key (known: " +
                             problems[0].substr(problems[0].find("known: ") + 7));
    CHECK(problems[1].rfind(path + ": server.threads: expected a whole number", 0) == 0);
    CHECK(problems[2].rfind(path + ": server.health_requires_key: is true, but no key", 0) == 0);
    CHECK(problems[3] == path + ": models.m.backend: missing (the plugin id, e.g. llama_server)");
    CHECK(problems[4] == path + ": models.m.ready_timeout: must be above 0");
    CHECK(problems[5].rfind(path + ": logging.level: expected trace", 0) == 0);
    CHECK(config.server.threads == 256);  // a bad value keeps its default
    // The normal start still stops at the first problem.
    CHECK_THROWS_WITH(load_config(path), Catch::StartsWith(path + ": server.colour: unknown key"));

    problems.clear();
    gradatum::check_config(dir.path() + "/missing.properties", problems);
    CHECK(problems ==
          std::vector<std::string>{dir.path() + "/missing.properties: cannot read config file"});
}

// ---------------------------------------------------------------- many models

namespace {

// Two models, a and b, with `extra` lines.
const char* const kTwoModels =
    "models.a.backend = llama_server\n"
    "models.a.llama_server.model = /a.gguf\n"
    "models.b.backend = llama_server\n"
    "models.b.llama_server.model = /b.gguf\n";

EngineConfig two_models(const TempDir& dir, const std::string& extra) {
    return load_config(dir.write("two.properties", std::string(kTwoModels) + extra));
}

// The ConfigError for kTwoModels + `extra`, without the file name.
std::string two_models_error(const TempDir& dir, const std::string& extra) {
    std::string path = dir.path() + "/two.properties";
    std::string text = error_of(dir, "two.properties", std::string(kTwoModels) + extra);
    if (text.rfind(path + ": ", 0) == 0) text.erase(0, path.size() + 2);
    return text;
}

const gradatum::ModelSettings& model(const EngineConfig& c, const std::string& name) {
    for (const auto& m : c.models) {
        if (m.name == name) return m;
    }
    FAIL("no model " << name);
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("many-models keys: defaults", "[config][models]") {
    TempDir dir;
    EngineConfig c = load_config(dir.write("min.properties", kOneModel));
    CHECK(c.server.admin_keys.empty());
    CHECK(c.server.max_running == 0);
    CHECK(c.server.max_wait_for_swap == std::chrono::milliseconds(30000));
    CHECK(c.groups.empty());
    REQUIRE(c.models.size() == 1);
    const auto& m = c.models[0];
    CHECK(m.aliases.empty());
    CHECK_FALSE(m.listen.has_value());
    CHECK(m.autostart);  // the only model
    CHECK(m.ttl == std::chrono::milliseconds(0));
    CHECK(m.min_loaded == std::chrono::milliseconds(0));
    CHECK(m.group.empty());
    CHECK(m.max_concurrent == 0);
    CHECK(m.max_queued == 64);
    CHECK_FALSE(m.liveness.generate);
}

TEST_CASE("many-models keys are read, and none reaches the plugin", "[config][models]") {
    TempDir dir;
    EngineConfig c = two_models(dir,
                                "server.admin_keys = adm-1, adm-2 ,adm-1\n"
                                "server.max_running = 1\n"
                                "server.max_wait_for_swap = 2.5\n"
                                "server.default_model = a\n"
                                "groups.z-gpu.exclusive = true\n"
                                "groups.a-cpu.exclusive = no\n"
                                "models.a.aliases = gpt-4o-mini , assistant\n"
                                "models.a.listen = 127.0.0.1:8091\n"
                                "models.a.ttl = 600\n"
                                "models.a.min_loaded = 30\n"
                                "models.a.group = z-gpu\n"
                                "models.a.max_concurrent = 4\n"
                                "models.a.max_queued = 0\n"
                                "models.a.liveness.generate = true\n"
                                "models.b.autostart = yes\n"
                                "models.b.group = z-gpu\n");
    CHECK(c.server.admin_keys == Strings{"adm-1", "adm-2"});  // each once
    CHECK(c.server.max_running == 1);
    CHECK(c.server.max_wait_for_swap == std::chrono::milliseconds(2500));
    // Sorted by name.
    REQUIRE(c.groups.size() == 2);
    CHECK(c.groups[0].name == "a-cpu");
    CHECK_FALSE(c.groups[0].exclusive);
    CHECK(c.groups[1].name == "z-gpu");
    CHECK(c.groups[1].exclusive);

    const auto& a = model(c, "a");
    CHECK(a.aliases == Strings{"gpt-4o-mini", "assistant"});
    REQUIRE(a.listen.has_value());
    CHECK(a.listen->host == "127.0.0.1");
    CHECK(a.listen->port == 8091);
    CHECK_FALSE(a.listen->tls);
    CHECK(a.autostart);  // the default model
    CHECK(a.ttl == std::chrono::milliseconds(600000));
    CHECK(a.min_loaded == std::chrono::milliseconds(30000));
    CHECK(a.group == "z-gpu");
    CHECK(a.max_concurrent == 4);
    CHECK(a.max_queued == 0);
    CHECK(a.liveness.generate);
    const auto& b = model(c, "b");
    CHECK(b.autostart);  // explicit
    CHECK(b.group == "z-gpu");
    // The core's keys are consumed: the plugin sees only its own.
    CHECK(a.backend_config ==
          std::map<std::string, std::string>{{"llama_server.model", "/a.gguf"}});
    CHECK(b.backend_config ==
          std::map<std::string, std::string>{{"llama_server.model", "/b.gguf"}});
    // The admin keys never reach the plugins' config_get.
    CHECK(c.raw.count("server.admin_keys") == 0);
    CHECK(c.raw.count("server.max_running") == 1);
}

TEST_CASE("many-models keys read alike in every format", "[config][models]") {
    TempDir dir;
    auto ini = load_config(dir.write("m.ini",
                                     "[server]\nmax_running = 1\nadmin_keys = adm\n"
                                     "[groups.gpu]\nexclusive = true\n"
                                     "[models.a]\nbackend = llama_server\naliases = x, y\n"
                                     "group = gpu\nlisten = 127.0.0.1:8091\nttl = 60\n"
                                     "liveness.generate = true\n"
                                     "[models.b]\nbackend = llama_server\n"));
    auto json = load_config(dir.write("m.json", R"({
        "server": {"max_running": 1, "admin_keys": "adm"},
        "groups": {"gpu": {"exclusive": true}},
        "models": {
          "a": {"backend": "llama_server", "aliases": "x, y", "group": "gpu",
                "listen": "127.0.0.1:8091", "ttl": 60, "liveness": {"generate": true}},
          "b": {"backend": "llama_server"}}})"));
    auto xml = load_config(dir.write(
        "m.xml",
        "<c><server><max_running>1</max_running><admin_keys>adm</admin_keys></server>"
        "<groups><gpu><exclusive>true</exclusive></gpu></groups>"
        "<models><a><backend>llama_server</backend><aliases>x, y</aliases><group>gpu</group>"
        "<listen>127.0.0.1:8091</listen><ttl>60</ttl><liveness><generate>true</generate>"
        "</liveness></a><b><backend>llama_server</backend></b></models></c>"));
    for (const EngineConfig* c : {&ini, &json, &xml}) {
        CAPTURE(c->source_path);
        CHECK(c->server.max_running == 1);
        CHECK(c->server.admin_keys == Strings{"adm"});
        REQUIRE(c->groups.size() == 1);
        CHECK(c->groups[0].exclusive);
        const auto& a = model(*c, "a");
        CHECK(a.aliases == Strings{"x", "y"});
        CHECK(a.group == "gpu");
        REQUIRE(a.listen.has_value());
        CHECK(a.listen->port == 8091);
        CHECK(a.ttl == std::chrono::milliseconds(60000));
        CHECK(a.liveness.generate);
        CHECK(a.backend_config.empty());
        CHECK_FALSE(a.autostart);  // two models, no default
    }
}

TEST_CASE("autostart: the only model, else the default model, an explicit value wins",
          "[config][models]") {
    TempDir dir;
    auto starts = [](const EngineConfig& c) {
        std::string out;
        for (const auto& m : c.models) out += m.name + "=" + (m.autostart ? "1" : "0") + " ";
        return out;
    };
    CHECK(starts(two_models(dir, "")) == "a=0 b=0 ");
    CHECK(starts(two_models(dir, "server.default_model = b\n")) == "a=0 b=1 ");
    CHECK(starts(two_models(dir, "server.default_model = b\nmodels.a.autostart = true\n")) ==
          "a=1 b=1 ");
    CHECK(starts(two_models(dir, "server.default_model = b\nmodels.b.autostart = false\n")) ==
          "a=0 b=0 ");
    CHECK(starts(load_config(dir.write(
              "one.properties", std::string(kOneModel) + "models.qwen.autostart = off\n"))) ==
          "qwen=0 ");
    CHECK(two_models_error(dir, "models.a.autostart = later\n") ==
          "models.a.autostart: expected true or false, got 'later'");
}

TEST_CASE("server.admin_keys: errors name keys by position, never by value", "[config][models]") {
    TempDir dir;
    CHECK(keys_error(dir, "server.admin_keys =\n", {}) ==
          "server.admin_keys: empty (remove the line to serve /admin/ on loopback listeners only)");
    CHECK(keys_error(dir, "server.admin_keys = adm-aaa,,adm-bbb\n", {"adm-aaa", "adm-bbb"}) ==
          "server.admin_keys: key 2 is empty (a stray comma?)");
    CHECK(keys_error(dir, "server.admin_keys = adm-x yz\n", {"adm-x", "yz"}) ==
          "server.admin_keys: key 1 contains a space or a control character");
    // Separate from the client keys.
    auto c = with_keys(dir, "server.api_keys = sk-1\nserver.admin_keys = adm-1\n");
    CHECK(c.server.api_keys == Strings{"sk-1"});
    CHECK(c.server.admin_keys == Strings{"adm-1"});
}

TEST_CASE("server.max_running and server.max_wait_for_swap", "[config][models]") {
    TempDir dir;
    CHECK(two_models(dir, "server.max_running = 0\nserver.max_wait_for_swap = 0\n")
              .server.max_wait_for_swap == std::chrono::milliseconds(0));
    CHECK(two_models_error(dir, "server.max_running = -1\n") ==
          "server.max_running: expected a whole number from 0 to 10000, got '-1'");
    CHECK(two_models_error(dir, "server.max_running = one\n") ==
          "server.max_running: expected a whole number from 0 to 10000, got 'one'");
    CHECK(two_models_error(dir, "server.max_wait_for_swap = 30s\n") ==
          "server.max_wait_for_swap: expected a number of seconds from 0 to 2592000 (30 days), "
          "got '30s'");
}

TEST_CASE("per-model limits and timers are range-checked", "[config][models]") {
    TempDir dir;
    CHECK(two_models_error(dir, "models.a.max_concurrent = -1\n") ==
          "models.a.max_concurrent: expected a whole number from 0 to 10000, got '-1'");
    CHECK(two_models_error(dir, "models.a.max_queued = 10001\n") ==
          "models.a.max_queued: expected a whole number from 0 to 10000, got '10001'");
    CHECK(two_models_error(dir, "models.b.ttl = never\n") ==
          "models.b.ttl: expected a number of seconds from 0 to 2592000 (30 days), got 'never'");
    CHECK(two_models_error(dir, "models.b.min_loaded = -5\n") ==
          "models.b.min_loaded: expected a number of seconds from 0 to 2592000 (30 days), got "
          "'-5'");
    CHECK(two_models_error(dir, "models.a.liveness.generate = maybe\n") ==
          "models.a.liveness.generate: expected true or false, got 'maybe'");
}

TEST_CASE("groups: every key checked, and a model's group must be configured", "[config][models]") {
    TempDir dir;
    CHECK(two_models_error(dir, "groups.gpu.exclusiv = true\n") ==
          "groups.gpu.exclusiv: unknown key (known: exclusive)");
    CHECK(two_models_error(dir, "groups.gpu = true\n") ==
          "groups.gpu: expected groups.<name>.<setting>");
    CHECK(two_models_error(dir, "groups.g@u.exclusive = true\n") ==
          "groups.g@u.exclusive: group name 'g@u' may use only letters, digits, _ and -");
    CHECK(two_models_error(dir, "groups.gpu.exclusive = sometimes\n") ==
          "groups.gpu.exclusive: expected true or false, got 'sometimes'");
    // A typo in a model's group would silently lose the exclusivity: refused.
    CHECK(two_models_error(dir, "models.a.group = gpu\n") ==
          "models.a.group: no group named 'gpu' (no groups.<name> section is configured); add "
          "groups.gpu.exclusive = true or false");
    CHECK(two_models_error(dir,
                           "groups.gpu0.exclusive = true\ngroups.gpu1.exclusive = true\n"
                           "models.b.group = gpu2\n") ==
          "models.b.group: no group named 'gpu2' (configured: gpu0, gpu1); add "
          "groups.gpu2.exclusive = true or false");
    CHECK(two_models_error(dir, "groups.gpu.exclusive = true\nmodels.a.group =\n") ==
          "models.a.group: empty (remove the line for no group)");
    // A group without members is fine.
    CHECK(two_models(dir, "groups.spare.exclusive = true\n").groups.size() == 1);
}

TEST_CASE("aliases: trimmed names, each unique among every model name and alias",
          "[config][models]") {
    TempDir dir;
    CHECK(two_models(dir, "models.a.aliases = x\nmodels.b.aliases = y, z\n").models[1].aliases ==
          Strings{"y", "z"});
    CHECK(two_models_error(dir, "models.a.aliases =\n") ==
          "models.a.aliases: empty (remove the line for no alias)");
    CHECK(two_models_error(dir, "models.a.aliases = x,,y\n") ==
          "models.a.aliases: empty entry in 'x,,y' (a stray comma?)");
    CHECK(two_models_error(dir, "models.a.aliases = x,\n") ==
          "models.a.aliases: empty entry in 'x,' (a stray comma?)");
    // Clients' model names: dots, colons, slashes.
    CHECK(two_models(dir, "models.a.aliases = gpt-3.5-turbo, llama3:8b, Qwen/Qwen2.5@q4+x\n")
              .models[0]
              .aliases == Strings{"gpt-3.5-turbo", "llama3:8b", "Qwen/Qwen2.5@q4+x"});
    CHECK(two_models_error(dir, "models.a.aliases = my model\n") ==
          "models.a.aliases: alias 'my model' may use only letters, digits and _ - . : / @ +");
    CHECK(two_models_error(dir, "models.a.aliases = x\"y\n") ==
          "models.a.aliases: alias 'x\"y' may use only letters, digits and _ - . : / @ +");
    CHECK(two_models_error(dir, "models.a.aliases = a\n") ==
          "models.a.aliases: 'a' is this model's own name");
    CHECK(two_models_error(dir, "models.a.aliases = x, b\n") ==
          "models.a.aliases: 'b' is the name of model 'b'");
    CHECK(two_models_error(dir, "models.b.aliases = x, y, x\n") ==
          "models.b.aliases: 'x' is listed twice");
    CHECK(two_models_error(dir, "models.a.aliases = x\nmodels.b.aliases = y, x\n") ==
          "models.b.aliases: 'x' is also an alias of model 'a' (models.a.aliases)");
}

TEST_CASE("server.default_model names a model, not an alias", "[config][models]") {
    TempDir dir;
    CHECK(two_models_error(dir, "models.b.aliases = big\nserver.default_model = big\n") ==
          "server.default_model: 'big' is an alias of model 'b'; name the model");
    CHECK(two_models_error(dir, "models.b.aliases = big\nserver.default_model = bog\n") ==
          "server.default_model: no model named 'bog'");
}

TEST_CASE("models.<name>.listen: one plain address, by the rules of server.listen",
          "[config][models]") {
    TempDir dir;
    auto c =
        two_models(dir, "models.a.listen = [::1]:8091\nmodels.b.listen = http://127.0.0.1:0\n");
    REQUIRE(model(c, "a").listen.has_value());
    CHECK(model(c, "a").listen->host == "::1");
    REQUIRE(model(c, "b").listen.has_value());
    CHECK(model(c, "b").listen->port == 0);
    CHECK(two_models_error(dir, "models.a.listen = https://127.0.0.1:8091\n") ==
          "models.a.listen: https:// is not offered for a model's own listener (plain HTTP only "
          "for now); put https:// listeners in server.listen");
    CHECK(two_models_error(dir, "models.a.listen = 127.0.0.1:8091, 127.0.0.1:8092\n") ==
          "models.a.listen: expected one address:port, got '127.0.0.1:8091, 127.0.0.1:8092'");
    CHECK(two_models_error(dir, "models.a.listen = 8091\n") ==
          "models.a.listen: expected host:port, got '8091'");
    // Fail-closed as server.listen: wildcards only with allow_wildcard, never a broadcast.
    CHECK(two_models_error(dir, "models.a.listen = 0.0.0.0:8091\n") ==
          "models.a.listen: 0.0.0.0:8091 is a wildcard address (every interface of this machine); "
          "list the specific addresses to listen on, or set server.allow_wildcard = true to accept "
          "every interface");
    CHECK(two_models(dir, "server.allow_wildcard = true\nmodels.a.listen = 0.0.0.0:8091\n")
              .models[0]
              .listen->host == "0.0.0.0");
    CHECK(two_models_error(dir, "models.a.listen = 255.255.255.255:8091\n") ==
          "models.a.listen: 255.255.255.255:8091 is a broadcast address, not one to listen on");
}

TEST_CASE("models.<name>.listen collides with no other listener", "[config][models]") {
    TempDir dir;
    CHECK(two_models_error(dir,
                           "server.listen = 127.0.0.1:8080, [::1]:8080\n"
                           "models.a.listen = [0::1]:8080\n") ==
          "models.a.listen: [::1]:8080 is also in server.listen");
    CHECK(two_models_error(dir,
                           "server.metrics_listen = 127.0.0.1:9464\n"
                           "models.b.listen = 127.0.0.1:9464\n") ==
          "models.b.listen: 127.0.0.1:9464 is also in server.metrics_listen");
    CHECK(two_models_error(dir,
                           "models.a.listen = 127.0.0.1:8091\n"
                           "models.b.listen = http://127.0.0.1:8091\n") ==
          "models.b.listen: 127.0.0.1:8091 is also in models.a.listen");
    // A wildcard takes its port on every address.
    CHECK(two_models_error(dir,
                           "server.allow_wildcard = true\nserver.listen = 0.0.0.0:8080\n"
                           "models.a.listen = 127.0.0.1:8080\n") ==
          "models.a.listen: 127.0.0.1:8080 overlaps the wildcard 0.0.0.0:8080 of server.listen, "
          "which takes port 8080 on every address");
    CHECK(two_models_error(dir,
                           "server.allow_wildcard = true\nmodels.a.listen = 127.0.0.1:8091\n"
                           "models.b.listen = [::]:8091\n") ==
          "models.b.listen: [::]:8091 is a wildcard, which takes port 8091 on every address: it "
          "overlaps 127.0.0.1:8091 of models.a.listen");
    // Another port, another address, or port 0 (any free port) are fine.
    auto c = two_models(dir,
                        "server.listen = 127.0.0.1:0\n"
                        "models.a.listen = 127.0.0.1:0\n"
                        "models.b.listen = 127.0.0.2:8080\n");
    CHECK(model(c, "a").listen->port == 0);
    CHECK(model(c, "b").listen->host == "127.0.0.2");
}

TEST_CASE("server.metrics_listen: one plain address beside server.listen", "[config]") {
    TempDir dir;
    CHECK(two_models_error(dir, "server.metrics_listen = 127.0.0.1:8080\n") ==
          "server.metrics_listen: 127.0.0.1:8080 is also in server.listen");
    CHECK(two_models_error(dir, "server.metrics_listen = https://127.0.0.1:9464\n") ==
          "server.metrics_listen: https:// is not offered here");
    CHECK(two_models_error(dir, "server.metrics_listen = 127.0.0.1:1, 127.0.0.1:2\n") ==
          "server.metrics_listen: expected one address:port, got '127.0.0.1:1, 127.0.0.1:2'");
    CHECK(two_models_error(dir,
                           "server.allow_wildcard = true\nserver.listen = [::]:8080\n"
                           "server.metrics_listen = 127.0.0.1:8080\n") ==
          "server.metrics_listen: 127.0.0.1:8080 overlaps the wildcard [::]:8080 of "
          "server.listen, which takes port 8080 on every address");
    CHECK(two_models(dir, "server.metrics_listen = 127.0.0.1:9464\n").server.metrics_listen->port ==
          9464);
}

TEST_CASE("check_config collects the many-models problems too", "[config][check][models]") {
    TempDir dir;
    std::string path = dir.write("engine.properties", std::string(kTwoModels) +
                                                          "server.max_running = -2\n"
                                                          "server.default_model = big\n"
                                                          "groups.gpu.exclusiv = true\n"
                                                          "models.a.aliases = big, a\n"
                                                          "models.a.listen = https://127.0.0.1:1\n"
                                                          "models.a.group = cpu\n"
                                                          "models.b.aliases = big\n"
                                                          "models.b.max_queued = lots\n");
    std::vector<std::string> problems;
    EngineConfig config = gradatum::check_config(path, problems);
    CAPTURE(problems);
    const Strings expected = {
        path + ": groups.gpu.exclusiv: unknown key (known: exclusive)",
        path + ": server.max_running: expected a whole number from 0 to 10000, got '-2'",
        path +
            ": models.a.listen: https:// is not offered for a model's own listener (plain "
            "HTTP only for now); put https:// listeners in server.listen",
        path + ": models.b.max_queued: expected a whole number from 0 to 10000, got 'lots'",
        path + ": models.a.aliases: 'a' is this model's own name",
        path + ": models.b.aliases: 'big' is also an alias of model 'a' (models.a.aliases)",
        path +
            ": models.a.group: no group named 'cpu' (configured: gpu); add "
            "groups.cpu.exclusive = true or false",
        path + ": server.default_model: 'big' is an alias of model 'a'; name the model"};
    CHECK(problems == expected);
    CHECK(config.server.max_running == 0);  // a bad value keeps its default
    CHECK(model(config, "a").aliases == Strings{"big"});
    CHECK_FALSE(model(config, "a").listen.has_value());
    CHECK(model(config, "b").max_queued == 64);
}

TEST_CASE("the multi-model example config loads", "[config][models]") {
    EngineConfig c = load_config(std::string(GE_EXAMPLE_CONFIG_DIR) + "/gradatum-engine-multi.ini");
    CHECK(c.server.max_running == 1);
    CHECK(c.server.default_model == "chat");
    REQUIRE(c.models.size() == 2);
    const auto& chat = model(c, "chat");
    const auto& lng = model(c, "long");
    CHECK(chat.autostart);
    CHECK_FALSE(lng.autostart);
    CHECK_FALSE(chat.aliases.empty());
    CHECK_FALSE(lng.aliases.empty());
    CHECK(lng.ttl > std::chrono::milliseconds(0));
    REQUIRE(lng.listen.has_value());
    CHECK(gradatum::config::format_listen(*lng.listen) == "127.0.0.1:8091");
    // The same small model under two names.
    CHECK(chat.backend_config.at("llama_server.model") ==
          lng.backend_config.at("llama_server.model"));
}

TEST_CASE("keep_cache: the cache directory is server.cache_dir/<model>, checked, not created",
          "[config][keep_cache]") {
    TempDir dir;
    SECTION("explicit") {
        auto c = two_models(dir, "server.cache_dir = " + dir.path() +
                                     "/state/\n"
                                     "models.a.keep_cache = true\nmodels.a.cache_max_mb = 10\n"
                                     "models.a.cache_timeout = 5\n");
        CHECK(c.server.cache_dir == dir.path() + "/state");
        CHECK(model(c, "a").keep_cache);
        CHECK(model(c, "a").state_dir == dir.path() + "/state/a");
        CHECK(model(c, "a").cache_max_mb == 10);
        CHECK(model(c, "a").cache_timeout == std::chrono::seconds(5));
        CHECK(model(c, "b").state_dir.empty());
        CHECK(model(c, "a").backend_config.count("keep_cache") == 0);
        struct stat st {};
        CHECK(stat((dir.path() + "/state").c_str(), &st) != 0);  // nothing created
    }
    SECTION("default: under $XDG_CACHE_HOME") {
        const char* old = std::getenv("XDG_CACHE_HOME");
        std::string saved = old ? old : "";
        setenv("XDG_CACHE_HOME", dir.path().c_str(), 1);
        auto c = two_models(dir, "models.a.keep_cache = true\n");
        if (old)
            setenv("XDG_CACHE_HOME", saved.c_str(), 1);
        else
            unsetenv("XDG_CACHE_HOME");
        CHECK(model(c, "a").state_dir == dir.path() + "/gradatum-engine/state/a");
    }
    SECTION("errors name the key") {
        CHECK(two_models_error(dir, "server.cache_dir = state\nmodels.a.keep_cache = true\n") ==
              "server.cache_dir: must be an absolute path, got 'state'");
        std::string file = dir.write("plain", "x");
        CHECK(two_models_error(dir, "server.cache_dir = " + file + "\nmodels.a.keep_cache = true\n")
                  .find("server.cache_dir: cannot use '" + file + "' as the cache directory: '" +
                        file + "' exists and is not a directory") == 0);
        CHECK(
            two_models_error(dir, "models.a.keep_cache = perhaps\n").find("models.a.keep_cache") ==
            0);
        CHECK(two_models_error(dir, "models.a.cache_max_mb = 0\n").find("models.a.cache_max_mb") ==
              0);
    }
}
