// load_config: the four file formats read alike, and every user error names the file and the key.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "config/config.hpp"
#include "temp_dir.hpp"

using ge_test::TempDir;
using gradatum::ConfigError;
using gradatum::ConfigFileError;
using gradatum::EngineConfig;
using gradatum::load_config;

namespace {

// The same configuration in each format. `${...}` must come through unexpanded.
const char* const kProperties = R"(# comments sit on their own lines: '#' after a value is value
server.listen = 0.0.0.0:9090
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
listen = 0.0.0.0:9090
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
    <listen>0.0.0.0:9090</listen>
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
  "server": {"listen": "0.0.0.0:9090", "threads": 32, "default_model": "qwen"},
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
    out << "listen=" << c.server.listen.host << ":" << c.server.listen.port
        << " threads=" << c.server.threads << " max_queued=" << c.server.max_queued
        << " drain=" << c.server.drain_timeout.count()
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
    CHECK(c.server.listen.host == "0.0.0.0");
    CHECK(c.server.listen.port == 9090);
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
    CHECK(c.raw.at("server.listen") == "0.0.0.0:9090");
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

TEST_CASE("defaults apply when only a model is configured", "[config]") {
    TempDir dir;
    EngineConfig c = load_config(dir.write("min.properties", kOneModel));
    CHECK(c.server.listen.host == "127.0.0.1");
    CHECK(c.server.listen.port == 8080);
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
    CHECK(c.server.listen.host == "::1");
    CHECK(c.server.listen.port == 0);
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
                  ": server.listn: unknown key (known: listen, threads, max_queued, "
                  "max_connections, drain_timeout, upstream_idle_timeout, default_model, "
                  "max_body_mb, max_header_bytes, max_headers, header_timeout, "
                  "keep_alive_timeout, client_idle_timeout, client_send_timeout, "
                  "upstream_connect_timeout, upstream_header_timeout, upstream_keepalive)");
    }
    SECTION("unknown top-level section") {
        CHECK(error(std::string(kOneModel) + "daemon.user = nobody\n") ==
              file +
                  ": daemon.user: unknown key (top-level sections: server, models, logging, "
                  "plugins)");
    }
    SECTION("a value for the whole server section") {
        // Would otherwise be dropped in silence, leaving the engine on 127.0.0.1:8080.
        CHECK(error(std::string(kOneModel) + "server = 0.0.0.0:9000\n") ==
              file + ": server: expected server.<setting>");
    }
    SECTION("unknown key under logging.") {
        CHECK(error(std::string(kOneModel) + "logging.format = json\n") ==
              file + ": logging.format: unknown key (known: level)");
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
        CHECK(c->server.listen.host == "127.0.0.1");
        CHECK(c->server.listen.port == 8080);
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
    std::string text, line;
    int uncommented = 0;
    while (std::getline(in, line)) {
        if (line.rfind("#server.", 0) == 0 || line.rfind("#models.", 0) == 0) {
            line.erase(0, 1);
            ++uncommented;
        }
        text += line + "\n";
    }
    CHECK(uncommented >= 5);
    TempDir dir;
    EngineConfig c = load_config(dir.write("all.properties", text));
    CHECK(c.server.default_model == "chat");
    REQUIRE(c.models.size() == 1);
    CHECK(c.models[0].backend_config.at("llama_server.api_key") == "change-me");
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
