// The command plugin's policy: settings, placeholders, the spawn's argv and environment, the
// readiness verdict and what counts as a load error.
#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "exit_rules.hpp"
#include "placeholders.hpp"
#include "readiness.hpp"
#include "settings.hpp"
#include "spawn_builder.hpp"
#include "temp_dir.hpp"

using command::parse_settings;
using command::Placeholder;
using command::PlaceholderValues;
using command::Settings;
using command::SettingsError;
using command::Template;
using command::TemplateError;
using Strings = std::vector<std::string>;
using Values = std::map<std::string, std::string>;

namespace {

// The programs the fake lookup was asked for, so a test sees what the plugin resolves.
std::vector<std::string> g_asked;

// Stands in for the host's program lookup: "my-server" is on PATH, absolute paths under /opt
// exist.
std::optional<std::string> fake_finder(const std::string& program) {
    g_asked.push_back(program);
    if (program == "my-server") return std::string("/usr/local/bin/my-server");
    if (program.rfind("/opt/", 0) == 0) return program;
    return std::nullopt;
}

Settings parse(Values values) {
    return parse_settings(values, fake_finder);
}

// The SettingsError parse_settings throws for `values`, as "key | message".
std::string settings_error(const Values& values) {
    try {
        parse_settings(values, fake_finder);
    } catch (const SettingsError& e) {
        return e.key + " | " + e.what();
    }
    return "no error";
}

std::string template_error(const std::string& text) {
    try {
        Template::parse(text);
    } catch (const TemplateError& e) {
        return e.what();
    }
    return "no error";
}

const PlaceholderValues kValues{41234, "127.0.0.1", "chat"};
const std::string kKnown =
    "known: {port}, {host}, {model_name}; write {{ and }} for literal braces";

}  // namespace

// ---------------------------------------------------------------- placeholders

TEST_CASE("placeholders fill whole words and parts of words", "[command][placeholders]") {
    CHECK(Template::parse("{port}").render(kValues) == "41234");
    CHECK(Template::parse("--port={port}").render(kValues) == "--port=41234");
    CHECK(Template::parse("http://{host}:{port}/v1").render(kValues) ==
          "http://127.0.0.1:41234/v1");
    CHECK(Template::parse("{model_name}").render(kValues) == "chat");
    CHECK(Template::parse("plain").render(kValues) == "plain");
    CHECK(Template::parse("").render(kValues).empty());
    CHECK(Template::parse("{port}{port}").render(kValues) == "4123441234");
}

TEST_CASE("doubled braces are literal braces", "[command][placeholders]") {
    CHECK(Template::parse("{{port}}").render(kValues) == "{port}");
    CHECK(Template::parse(R"({{"a": {port}}})").render(kValues) == R"({"a": 41234})");
    CHECK_FALSE(Template::parse("{{port}}").has_placeholders());
}

TEST_CASE("a template says which placeholders it uses", "[command][placeholders]") {
    auto t = Template::parse("--port={port}");
    CHECK(t.uses(Placeholder::port));
    CHECK_FALSE(t.uses(Placeholder::host));
    CHECK_FALSE(t.uses(Placeholder::model_name));
    CHECK(t.has_placeholders());
    CHECK_FALSE(Template::parse("--port=8080").has_placeholders());
}

TEST_CASE("an unknown placeholder, an unclosed { or a lone } is refused",
          "[command][placeholders]") {
    CHECK(template_error("{prot}") == "unknown placeholder {prot} (" + kKnown + ")");
    CHECK(template_error("--x={PORT}") == "unknown placeholder {PORT} (" + kKnown + ")");
    CHECK(template_error("{}") == "unknown placeholder {} (" + kKnown + ")");
    CHECK(template_error("{ port }") == "unknown placeholder { port } (" + kKnown + ")");
    CHECK(template_error("--port={port") == "a { that no } closes (" + kKnown + ")");
    CHECK(template_error("a}b") == "a lone } (" + kKnown + ")");
}

// ---------------------------------------------------------------- settings

TEST_CASE("command settings: the defaults", "[command][settings]") {
    auto s = parse({{"command.argv", "my-server --port {port}"}});
    CHECK(s.program == "/usr/local/bin/my-server");
    CHECK(s.health_path == "/health");
    CHECK(s.ready_status == std::set<int>{200});
    CHECK_FALSE(s.port_env);
    CHECK_FALSE(s.key_env);
    CHECK(s.env.empty());
    CHECK(s.workdir.empty());
    CHECK(s.headers.empty());
    CHECK(s.restart.max_retries == 5);
    CHECK(s.restart.load_error_retries == 2);
}

TEST_CASE("command.argv is required, and split like llama_server.args", "[command][settings]") {
    CHECK(settings_error({}) ==
          "command.argv | missing (the server's command line, e.g. my-server --port {port})");
    CHECK(settings_error({{"command.argv", "   "}}) ==
          "command.argv | empty (the program and its arguments)");
    CHECK(settings_error({{"command.argv", "my-server '--port {port}"}}) ==
          "command.argv | unterminated quote in 'my-server '--port {port}'");
    auto s = parse({{"command.argv", R"(my-server --port {port} --name "a b" 'c  d' e\ f)"}});
    CHECK(command::build_argv(s, kValues) ==
          Strings{"my-server", "--port", "41234", "--name", "a b", "c  d", "e f"});
}

TEST_CASE("a placeholder typo in command.argv names the key, the word and the placeholder",
          "[command][settings]") {
    CHECK(settings_error({{"command.argv", "my-server --port {prot}"}}) ==
          "command.argv | word 3 ('{prot}'): unknown placeholder {prot} (" + kKnown + ")");
    CHECK(settings_error({{"command.argv", "my-server --port={port"}}) ==
          "command.argv | word 2 ('--port={port'): a { that no } closes (" + kKnown + ")");
    CHECK(settings_error({{"command.argv", "{host}/my-server --port {port}"}}) ==
          "command.argv | the program (the first word) cannot hold a placeholder");
}

TEST_CASE("the program is resolved like the core will exec it", "[command][settings]") {
    SECTION("on PATH; argv[0] stays as written") {
        auto s = parse({{"command.argv", "my-server --port {port}"}});
        CHECK(s.program == "/usr/local/bin/my-server");
        CHECK(command::build_argv(s, kValues)[0] == "my-server");
    }
    SECTION("not on PATH") {
        CHECK(settings_error({{"command.argv", "no-such-server --port {port}"}}) ==
              "command.argv | 'no-such-server' not found on PATH (write the program's full path)");
    }
    SECTION("a path that is not an executable file") {
        CHECK(settings_error({{"command.argv", "/srv/x/server --port {port}"}}) ==
              "command.argv | not an executable file: /srv/x/server");
    }
    SECTION("a relative path is taken relative to command.workdir") {
        ge_test::TempDir dir;
        g_asked.clear();
        CHECK(settings_error({{"command.argv", "./bin/server --port {port}"},
                              {"command.workdir", dir.path()}}) ==
              "command.argv | not an executable file: " + dir.path() + "/./bin/server");
        CHECK(g_asked == Strings{dir.path() + "/./bin/server"});
    }
    SECTION("a bare name is looked up on PATH even with a workdir") {
        ge_test::TempDir dir;
        g_asked.clear();
        auto s = parse({{"command.argv", "my-server {port}"}, {"command.workdir", dir.path()}});
        CHECK(g_asked == Strings{"my-server"});
        CHECK(s.workdir == dir.path());
    }
}

TEST_CASE("the child must learn its port", "[command][settings]") {
    const std::string refused =
        "command.argv | nothing tells the child its port: put {port} in command.argv (e.g. "
        "--port {port}) or name a variable in command.port_env";
    CHECK(settings_error({{"command.argv", "my-server --port 8080"}}) == refused);
    CHECK(settings_error({{"command.argv", "my-server --port {{port}}"}}) == refused);
    CHECK(settings_error({{"command.argv", "my-server"}, {"command.env.HOST", "{host}"}}) ==
          refused);
    CHECK_NOTHROW(parse({{"command.argv", "my-server"}, {"command.port_env", "PORT"}}));
    CHECK_NOTHROW(parse({{"command.argv", "my-server"}, {"command.env.ADDR", "{host}:{port}"}}));
}

TEST_CASE("port_env and key_env name environment variables", "[command][settings]") {
    auto s = parse({{"command.argv", "my-server"},
                    {"command.port_env", " PORT "},
                    {"command.key_env", "API_KEY"}});
    CHECK(s.port_env == "PORT");
    CHECK(s.key_env == "API_KEY");
    CHECK(settings_error({{"command.argv", "my-server"}, {"command.port_env", "1PORT"}}) ==
          "command.port_env | expected an environment variable name (letters, digits and _, not "
          "starting with a digit), got '1PORT'");
    CHECK(settings_error({{"command.argv", "my-server {port}"}, {"command.key_env", "A-B"}}) ==
          "command.key_env | expected an environment variable name (letters, digits and _, not "
          "starting with a digit), got 'A-B'");
    CHECK(
        settings_error(
            {{"command.argv", "my-server"}, {"command.port_env", "X"}, {"command.key_env", "X"}}) ==
        "command.key_env | the same variable as command.port_env");
    CHECK(settings_error({{"command.argv", "my-server"},
                          {"command.port_env", "PORT"},
                          {"command.env.PORT", "1"}}) ==
          "command.env.PORT | set by the engine (command.port_env or command.key_env)");
}

TEST_CASE("command.env.<NAME> keys, with placeholders in their values", "[command][settings]") {
    auto s = parse({{"command.argv", "my-server --port {port}"},
                    {"command.env.PYTHONUNBUFFERED", "1"},
                    {"command.env.SERVED_NAME", "{model_name}"},
                    {"command.env.URL", "http://{host}:{port}"},
                    {"command.env.EMPTY", ""}});
    CHECK(command::build_env(s, kValues, "") == Strings{"EMPTY=", "PYTHONUNBUFFERED=1",
                                                        "SERVED_NAME=chat",
                                                        "URL=http://127.0.0.1:41234"});
    CHECK(settings_error({{"command.argv", "my-server {port}"}, {"command.env.9LIVES", "1"}}) ==
          "command.env.9LIVES | '9LIVES' is not an environment variable name (letters, digits "
          "and _, not starting with a digit)");
    CHECK(settings_error({{"command.argv", "my-server {port}"}, {"command.env.", "1"}}) ==
          "command.env. | '' is not an environment variable name (letters, digits and _, not "
          "starting with a digit)");
    CHECK(settings_error({{"command.argv", "my-server {port}"}, {"command.env.X", "{prot}"}}) ==
          "command.env.X | value: unknown placeholder {prot} (" + kKnown + ")");
}

TEST_CASE("the port and the key go in their variables", "[command][spawn]") {
    auto s = parse({{"command.argv", "my-server"},
                    {"command.port_env", "PORT"},
                    {"command.key_env", "API_KEY"},
                    {"command.env.A", "1"}});
    CHECK(command::build_env(s, kValues, "k3y") == Strings{"A=1", "PORT=41234", "API_KEY=k3y"});
    CHECK(command::build_argv(s, kValues) == Strings{"my-server"});
}

TEST_CASE("command.workdir must be an absolute directory", "[command][settings]") {
    ge_test::TempDir dir;
    std::string file = dir.write("f", "x");
    const Values argv = {{"command.argv", "my-server {port}"}};
    auto with = [&](const std::string& workdir) {
        Values v = argv;
        v["command.workdir"] = workdir;
        return settings_error(v);
    };
    CHECK(with("relative/dir") ==
          "command.workdir | expected an absolute path, got 'relative/dir'");
    CHECK(with(dir.path() + "/missing") ==
          "command.workdir | directory not found: " + dir.path() + "/missing");
    CHECK(with(file) == "command.workdir | not a directory: " + file);
    CHECK(with(dir.path()) == "no error");
}

TEST_CASE("command.health_path and command.ready_status", "[command][settings]") {
    auto s = parse({{"command.argv", "my-server {port}"},
                    {"command.health_path", "/v1/models?x=1"},
                    {"command.ready_status", "200, 204"}});
    CHECK(s.health_path == "/v1/models?x=1");
    CHECK(s.ready_status == std::set<int>{200, 204});
    const Values argv = {{"command.argv", "my-server {port}"}};
    auto with = [&](const std::string& key, const std::string& value) {
        Values v = argv;
        v[key] = value;
        return settings_error(v);
    };
    CHECK(with("command.health_path", "health") ==
          "command.health_path | expected a path starting with /, got 'health'");
    CHECK(with("command.health_path", "/a b") ==
          "command.health_path | may not contain spaces or control characters");
    const std::string expected =
        "command.ready_status | expected HTTP status codes from 100 to 599, comma-separated (e.g. "
        "200, 204), got '";
    CHECK(with("command.ready_status", "ok") == expected + "ok'");
    CHECK(with("command.ready_status", "200,") == expected + "200,'");
    CHECK(with("command.ready_status", "99") == expected + "99'");
    CHECK(with("command.ready_status", "600") == expected + "600'");
}

TEST_CASE("the readiness verdict", "[command][readiness]") {
    auto s = parse({{"command.argv", "my-server {port}"}, {"command.ready_status", "200,204"}});
    CHECK(command::probe_verdict(s, 200) == GE_PROBE_READY);
    CHECK(command::probe_verdict(s, 204) == GE_PROBE_READY);
    CHECK(command::probe_verdict(s, 0) == GE_PROBE_LOADING);    // no answer yet
    CHECK(command::probe_verdict(s, 503) == GE_PROBE_LOADING);  // loading
    CHECK(command::probe_verdict(s, 302) == GE_PROBE_LOADING);
    CHECK(command::probe_verdict(s, 404) == GE_PROBE_FAILED);  // a wrong health_path
    CHECK(command::probe_verdict(s, 401) == GE_PROBE_FAILED);
    auto teapot = parse({{"command.argv", "my-server {port}"}, {"command.ready_status", "418"}});
    CHECK(command::probe_verdict(teapot, 418) == GE_PROBE_READY);
    CHECK(command::probe_verdict(teapot, 200) == GE_PROBE_LOADING);
}

TEST_CASE("command.header.<Name> keys", "[command][settings]") {
    auto s = parse({{"command.argv", "my-server {port}"},
                    {"command.header.X-Api-Key", " s3cret "},
                    {"command.header.OpenAI-Organization", "org"}});
    using Header = std::pair<std::string, std::string>;
    CHECK(s.headers ==
          std::vector<Header>{{"OpenAI-Organization", "org"}, {"X-Api-Key", "s3cret"}});
    const Values argv = {{"command.argv", "my-server {port}"}};
    auto with = [&](const std::string& key, const std::string& value) {
        Values v = argv;
        v[key] = value;
        return settings_error(v);
    };
    CHECK(with("command.header.X Y", "v") ==
          "command.header.X Y | not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)");
    CHECK(with("command.header.Host", "v") == "command.header.Host | the engine sets Host itself");
    CHECK(with("command.header.content-length", "1") ==
          "command.header.content-length | the engine sets content-length itself");
    CHECK(with("command.header.X", "  ") == "command.header.X | empty");
    // The value may be a secret: the message never repeats it.
    CHECK(with("command.header.X", "sec\r\nret") ==
          "command.header.X | may not contain control characters (line breaks included)");
    Values twice = argv;
    twice["command.header.X-Key"] = "a";
    twice["command.header.x-key"] = "b";
    CHECK(settings_error(twice) ==
          "command.header.x-key | the same header as command.header.X-Key");
    Values with_key = argv;
    with_key["command.key_env"] = "K";
    with_key["command.header.authorization"] = "Bearer x";
    CHECK(settings_error(with_key) ==
          "command.header.authorization | command.key_env already sends Authorization: Bearer "
          "<key>");
}

TEST_CASE("unknown keys are refused with the known ones listed", "[command][settings]") {
    CHECK(settings_error({{"command.argv", "my-server {port}"}, {"command.args", "x"}}) ==
          "command.args | unknown key (known: command.argv, port_env, key_env, health_path, "
          "ready_status, workdir, env.<NAME>, header.<Name>)");
    CHECK(settings_error({{"command.argv", "my-server {port}"}, {"llama_server.model", "x"}}) ==
          "llama_server.model | unknown key");
}

TEST_CASE("restart.* keys are the shared ones", "[command][settings][restart]") {
    auto s = parse({{"command.argv", "my-server {port}"},
                    {"restart.initial_delay", "1.5"},
                    {"restart.max_delay", "10"},
                    {"restart.max_retries", "3"},
                    {"restart.window", "60"},
                    {"restart.stable_after", "5"},
                    {"restart.load_error_retries", "0"},
                    {"restart.jitter", "0"}});
    CHECK(s.restart.initial_delay_s == 1.5);
    CHECK(s.restart.max_delay_s == 10);
    CHECK(s.restart.max_retries == 3);
    CHECK(s.restart.window_s == 60);
    CHECK(s.restart.stable_after_s == 5);
    CHECK(s.restart.load_error_retries == 0);
    CHECK(s.restart.jitter == 0);
    CHECK(settings_error({{"command.argv", "my-server {port}"}, {"restart.jitter", "2"}}) ==
          "restart.jitter | expected a fraction from 0 to 1, got '2'");
    CHECK(settings_error({{"command.argv", "my-server {port}"}, {"restart.tries", "2"}}) ==
          "restart.tries | unknown key (known: restart.initial_delay, max_delay, max_retries, "
          "window, stable_after, load_error_retries, jitter)");
    CHECK(settings_error({{"command.argv", "my-server {port}"},
                          {"restart.initial_delay", "5"},
                          {"restart.max_delay", "1"}}) ==
          "restart.max_delay | must not be below restart.initial_delay");
}

// ---------------------------------------------------------------- exits

TEST_CASE("what counts as a load error for a command backend", "[command][restart]") {
    plugin_common::ChildExit e;
    e.exit_code = 2;
    CHECK(command::is_load_error(e));  // a bad flag: it will fail the same way next time
    e.exit_code = 0;
    CHECK_FALSE(command::is_load_error(e));  // it ended on its own, without an error
    e.exit_code = -1;
    e.signal = 9;
    CHECK_FALSE(command::is_load_error(e));  // killed: the OOM killer, not the config
    plugin_common::ChildExit after_ready;
    after_ready.exit_code = 1;
    after_ready.was_ready = true;
    CHECK_FALSE(command::is_load_error(after_ready));  // a crash, not a load error
    plugin_common::ChildExit timed_out;
    timed_out.exit_code = 1;
    timed_out.stopped_by_core = true;  // ready_timeout: the core stopped it
    CHECK_FALSE(command::is_load_error(timed_out));
    plugin_common::ChildExit not_run;
    not_run.exec_failed = true;
    CHECK(command::is_load_error(not_run));
}

TEST_CASE("a command backend that will not load gives up after load_error_retries",
          "[command][restart]") {
    plugin_common::RestartSettings r;
    r.load_error_retries = 1;
    r.jitter = 0;
    plugin_common::RestartPolicy policy(r, command::exit_vocabulary(), 1);
    plugin_common::ChildExit e;
    e.exit_code = 2;
    e.stderr_tail = "usage: my-server [--port N]\nerror: unknown flag --prot\n";
    e.now_ms = 1000;
    auto first = policy.on_exit(e);
    CHECK(first.restart);
    CHECK(first.delay_ms == 500);
    // No server's wording is known: the last line explains the exit.
    CHECK(first.reason == "exited with code 2 while loading: error: unknown flag --prot");
    e.now_ms = 2000;
    auto second = policy.on_exit(e);
    CHECK_FALSE(second.restart);
    CHECK(second.reason ==
          "could not load 2 times; check the model's config (exited with code 2 while loading: "
          "error: unknown flag --prot)");
}
