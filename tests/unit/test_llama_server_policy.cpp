// The llama_server plugin's policy: settings, command line, environment and restart decisions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "argv_builder.hpp"
#include "restart_policy.hpp"
#include "secret.hpp"
#include "settings.hpp"
#include "temp_dir.hpp"

using llama_server::build_argv;
using llama_server::build_env;
using llama_server::ChildExit;
using llama_server::Decision;
using llama_server::describe_exit;
using llama_server::parse_settings;
using llama_server::random_key;
using llama_server::RestartPolicy;
using llama_server::RestartSettings;
using llama_server::Settings;
using llama_server::SettingsError;
using llama_server::split_args;
using Strings = std::vector<std::string>;
using Values = std::map<std::string, std::string>;

namespace {

// Stands in for the host's program lookup: only "llama-server" and absolute paths under /opt
// exist, so each resolution the plugin asks for is visible in the result.
std::optional<std::string> fake_finder(const std::string& program) {
    if (program == "llama-server") return std::string("/usr/local/bin/llama-server");
    if (program.rfind("/opt/", 0) == 0) return program;
    return std::nullopt;
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

// A model file that exists, and parse_settings on it plus `extra`.
struct ModelDir {
    ge_test::TempDir dir;
    std::string model = dir.write("model.gguf", "GGUF");

    Values with(Values extra) const {
        extra.emplace("llama_server.model", model);
        return extra;
    }
    Settings parse(Values extra = {}) const { return parse_settings(with(extra), fake_finder); }
};

}  // namespace

// ---------------------------------------------------------------- build_argv / build_env

TEST_CASE("build_argv gives the exact command line for full settings", "[llama_server][argv]") {
    Settings s;
    s.binary = "/opt/llama/llama-server";
    s.model = "/models/qwen.gguf";
    s.ctx_size = 8192;
    s.threads = 8;
    s.n_gpu_layers = "all";
    s.parallel = 4;
    s.mmproj = "/models/mmproj.gguf";
    s.embeddings = true;
    s.alias = "qwen";
    s.api_key = "sekret";
    s.extra_args = {"--flash-attn", "on"};

    CHECK(build_argv(s, "127.0.0.1", 8123) == Strings{"/opt/llama/llama-server",
                                                      "--model",
                                                      "/models/qwen.gguf",
                                                      "--host",
                                                      "127.0.0.1",
                                                      "--port",
                                                      "8123",
                                                      "--ctx-size",
                                                      "8192",
                                                      "--threads",
                                                      "8",
                                                      "--n-gpu-layers",
                                                      "all",
                                                      "--parallel",
                                                      "4",
                                                      "--mmproj",
                                                      "/models/mmproj.gguf",
                                                      "--embeddings",
                                                      "--alias",
                                                      "qwen",
                                                      "--flash-attn",
                                                      "on"});
}

TEST_CASE("build_argv with only the required settings", "[llama_server][argv]") {
    Settings s;
    s.binary = "/usr/bin/llama-server";
    s.model = "/m.gguf";
    CHECK(build_argv(s, "::1", 0) ==
          Strings{"/usr/bin/llama-server", "--model", "/m.gguf", "--host", "::1", "--port", "0"});
}

TEST_CASE("a model path with spaces, quotes and $ stays one argv element", "[llama_server][argv]") {
    // No shell ever sees argv, so nothing may be split, quoted or expanded.
    const std::string path = "/models/my \"best\" model's $HOME `x` ;.gguf";
    Settings s;
    s.binary = "llama-server";
    s.model = path;
    Strings argv = build_argv(s, "127.0.0.1", 9000);
    REQUIRE(argv.size() == 7);
    CHECK(argv[1] == "--model");
    CHECK(argv[2] == path);
}

TEST_CASE("the API key goes into the environment, never into argv", "[llama_server][argv]") {
    Settings s;
    s.binary = "llama-server";
    s.model = "/m.gguf";
    s.api_key = "sekret-key";
    CHECK(build_env(s) == Strings{"LLAMA_API_KEY=sekret-key"});
    for (const auto& arg : build_argv(s, "127.0.0.1", 9000)) {
        CHECK(arg.find("sekret") == std::string::npos);
        CHECK(arg != "--api-key");
    }
    s.api_key.reset();
    CHECK(build_env(s).empty());
}

TEST_CASE("build_env carries the key of this spawn, and nothing without one",
          "[llama_server][argv]") {
    Settings s;
    s.binary = "llama-server";
    s.model = "/m.gguf";
    CHECK(build_env(s, "0123abcd") == Strings{"LLAMA_API_KEY=0123abcd"});
    CHECK(build_env(s, "").empty());
    // The spawn's key wins over the configured one (the plugin passes the configured one in).
    s.api_key = "configured";
    CHECK(build_env(s, "other") == Strings{"LLAMA_API_KEY=other"});
}

// ---------------------------------------------------------------- random_key

TEST_CASE("random_key gives 256 bits as 64 lower-case hex digits", "[llama_server][secret]") {
    std::string key = random_key();
    CHECK(key.size() == 2 * llama_server::kSpawnKeyBytes);
    CHECK(key.size() == 64);
    CHECK(std::all_of(key.begin(), key.end(),
                      [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
}

TEST_CASE("random_key never repeats and uses every hex digit", "[llama_server][secret]") {
    std::set<std::string> keys;
    std::set<char> digits;
    for (int i = 0; i < 200; ++i) {
        std::string key = random_key();
        digits.insert(key.begin(), key.end());
        keys.insert(key);
    }
    CHECK(keys.size() == 200);
    // 12,800 digits: a key generator stuck on part of the alphabet (or on zeros) shows here.
    CHECK(digits.size() == 16);
}

// ---------------------------------------------------------------- split_args

TEST_CASE("split_args splits on whitespace without a shell", "[llama_server][args]") {
    CHECK(split_args("").empty());
    CHECK(split_args("   \t ").empty());
    CHECK(split_args("  --flash-attn   on\t--no-mmap ") ==
          Strings{"--flash-attn", "on", "--no-mmap"});
    // Shell syntax is plain text here.
    CHECK(split_args("a;b $(rm -rf) $HOME |x") == Strings{"a;b", "$(rm", "-rf)", "$HOME", "|x"});
}

TEST_CASE("split_args groups quotes and honours escapes", "[llama_server][args]") {
    CHECK(split_args(R"(--chat-template "a b" 'c  d')") ==
          Strings{"--chat-template", "a b", "c  d"});
    CHECK(split_args(R"(x"y z"w)") == Strings{"xy zw"});
    CHECK(split_args(R"('' "")") == Strings{"", ""});  // empty quotes are empty arguments
    CHECK(split_args(R"(a\ b c)") == Strings{"a b", "c"});
    CHECK(split_args(R"("say \"hi\"")") == Strings{R"(say "hi")"});
    CHECK(split_args(R"('it"s')") == Strings{R"(it"s)"});
    CHECK(split_args(R"('no \escape')") == Strings{R"(no \escape)"});  // literal in '...'
    CHECK(split_args(R"(\'x)") == Strings{"'x"});
}

TEST_CASE("split_args rejects an unterminated quote", "[llama_server][args]") {
    for (const std::string args : {R"(--a "b c)", R"(--a 'b)", R"("x\")"}) {
        CAPTURE(args);
        try {
            split_args(args);
            FAIL("no SettingsError");
        } catch (const SettingsError& e) {
            CHECK(e.key == "llama_server.args");
            CHECK(std::string(e.what()) == "unterminated quote in '" + args + "'");
        }
    }
}

// ---------------------------------------------------------------- parse_settings

TEST_CASE("parse_settings defaults", "[llama_server][settings]") {
    ModelDir m;
    Settings s = m.parse();
    CHECK(s.binary == "/usr/local/bin/llama-server");  // resolved through the host
    CHECK(s.model == m.model);
    CHECK_FALSE(s.ctx_size);
    CHECK_FALSE(s.threads);
    CHECK_FALSE(s.parallel);
    CHECK_FALSE(s.n_gpu_layers);
    CHECK_FALSE(s.mmproj);
    CHECK_FALSE(s.alias);
    CHECK_FALSE(s.api_key);
    CHECK_FALSE(s.embeddings);
    CHECK(s.extra_args.empty());
    CHECK(s.restart.initial_delay_s == 0.5);
    CHECK(s.restart.max_delay_s == 30);
    CHECK(s.restart.max_retries == 5);
    CHECK(s.restart.window_s == 300);
    CHECK(s.restart.stable_after_s == 60);
    CHECK(s.restart.load_error_retries == 2);
    CHECK(s.restart.jitter == Approx(0.2));
}

TEST_CASE("parse_settings reads every optional key", "[llama_server][settings]") {
    ModelDir m;
    std::string mmproj = m.dir.write("mmproj.gguf", "GGUF");
    Settings s = m.parse({{"llama_server.binary", " /opt/llama/bin/llama-server "},
                          {"llama_server.ctx_size", "8192"},
                          {"llama_server.threads", "-1"},
                          {"llama_server.parallel", " 3 "},
                          {"llama_server.n_gpu_layers", "99"},
                          {"llama_server.mmproj", mmproj},
                          {"llama_server.embeddings", "yes"},
                          {"llama_server.alias", "qwen-7b"},
                          {"llama_server.api_key", " k3y "},
                          {"llama_server.args", "--flash-attn on --jinja"},
                          {"restart.initial_delay", "0.25"},
                          {"restart.max_delay", "10"},
                          {"restart.max_retries", "0"},
                          {"restart.window", "60"},
                          {"restart.stable_after", "5"},
                          {"restart.load_error_retries", "4"},
                          {"restart.jitter", "0"}});
    CHECK(s.binary == "/opt/llama/bin/llama-server");
    CHECK(s.ctx_size == 8192);
    CHECK(s.threads == -1);
    CHECK(s.parallel == 3);
    CHECK(s.n_gpu_layers == std::string("99"));
    CHECK(s.mmproj == mmproj);
    CHECK(s.embeddings);
    CHECK(s.alias == std::string("qwen-7b"));
    CHECK(s.api_key == std::string("k3y"));
    CHECK(s.extra_args == Strings{"--flash-attn", "on", "--jinja"});
    CHECK(s.restart.initial_delay_s == 0.25);
    CHECK(s.restart.max_delay_s == 10);
    CHECK(s.restart.max_retries == 0);
    CHECK(s.restart.window_s == 60);
    CHECK(s.restart.stable_after_s == 5);
    CHECK(s.restart.load_error_retries == 4);
    CHECK(s.restart.jitter == 0);
}

TEST_CASE("parse_settings booleans", "[llama_server][settings]") {
    ModelDir m;
    for (const char* yes : {"true", "TRUE", "yes", "on", "1", " On "}) {
        CAPTURE(yes);
        CHECK(m.parse({{"llama_server.embeddings", yes}}).embeddings);
    }
    for (const char* no : {"false", "No", "off", "0"}) {
        CAPTURE(no);
        CHECK_FALSE(m.parse({{"llama_server.embeddings", no}}).embeddings);
    }
    CHECK(settings_error(m.with({{"llama_server.embeddings", "maybe"}})) ==
          "llama_server.embeddings | expected true or false, got 'maybe'");
}

TEST_CASE("parse_settings n_gpu_layers", "[llama_server][settings]") {
    ModelDir m;
    CHECK(m.parse({{"llama_server.n_gpu_layers", "auto"}}).n_gpu_layers == std::string("auto"));
    CHECK(m.parse({{"llama_server.n_gpu_layers", "all"}}).n_gpu_layers == std::string("all"));
    CHECK(m.parse({{"llama_server.n_gpu_layers", " 33 "}}).n_gpu_layers == std::string("33"));
    CHECK(m.parse({{"llama_server.n_gpu_layers", "-1"}}).n_gpu_layers == std::string("-1"));
    CHECK(m.parse({{"llama_server.n_gpu_layers", "0"}}).n_gpu_layers == std::string("0"));
    CHECK(settings_error(m.with({{"llama_server.n_gpu_layers", "many"}})) ==
          "llama_server.n_gpu_layers | expected a whole number >= -1, got 'many'");
    CHECK(settings_error(m.with({{"llama_server.n_gpu_layers", "1.5"}})) ==
          "llama_server.n_gpu_layers | expected a whole number >= -1, got '1.5'");
    CHECK(settings_error(m.with({{"llama_server.n_gpu_layers", "-2"}})) ==
          "llama_server.n_gpu_layers | expected a whole number >= -1, got '-2'");
}

TEST_CASE("parse_settings rejects bad numbers", "[llama_server][settings]") {
    ModelDir m;
    CHECK(settings_error(m.with({{"llama_server.ctx_size", "-1"}})) ==
          "llama_server.ctx_size | expected a whole number >= 0, got '-1'");
    CHECK(settings_error(m.with({{"llama_server.ctx_size", "8k"}})) ==
          "llama_server.ctx_size | expected a whole number >= 0, got '8k'");
    CHECK(settings_error(m.with({{"llama_server.ctx_size", ""}})) ==
          "llama_server.ctx_size | expected a whole number >= 0, got ''");
    CHECK(settings_error(m.with({{"llama_server.threads", "-2"}})) ==
          "llama_server.threads | expected a whole number >= -1, got '-2'");
    CHECK(settings_error(m.with({{"llama_server.parallel", "0"}})) ==
          "llama_server.parallel | expected a whole number >= 1, got '0'");
    CHECK(settings_error(m.with({{"restart.max_retries", "-1"}})) ==
          "restart.max_retries | expected a whole number from 0 to 2147483647, got '-1'");
    // Counts are ints: a value past INT_MAX must not wrap to a negative budget.
    CHECK(settings_error(m.with({{"restart.max_retries", "3000000000"}})) ==
          "restart.max_retries | expected a whole number from 0 to 2147483647, got '3000000000'");
    CHECK(settings_error(m.with({{"restart.load_error_retries", "4294967296"}})) ==
          "restart.load_error_retries | expected a whole number from 0 to 2147483647, got "
          "'4294967296'");
    // Past long long: strtoll would clamp to LLONG_MAX without a word.
    CHECK(settings_error(m.with({{"llama_server.ctx_size", "99999999999999999999"}})) ==
          "llama_server.ctx_size | expected a whole number >= 0, got '99999999999999999999'");
    CHECK(settings_error(m.with({{"restart.window", "five"}})) ==
          "restart.window | expected a number of seconds from 0 to 2592000 (30 days), got 'five'");
    CHECK(settings_error(m.with({{"restart.initial_delay", "-0.5"}})) ==
          "restart.initial_delay | expected a number of seconds from 0 to 2592000 (30 days), got "
          "'-0.5'");
    CHECK(settings_error(m.with({{"restart.jitter", "1.5"}})) ==
          "restart.jitter | expected a fraction from 0 to 1, got '1.5'");
}

TEST_CASE("restart durations are bounded and never round down to 0", "[llama_server][settings]") {
    ModelDir m;
    // 30 days is the most; one millisecond more, or a huge value, is a config error (before:
    // window * 1000 overflowed uint64 arithmetic).
    auto longest = m.parse({{"restart.window", "2592000"}});
    CHECK(longest.restart.window_s == 2592000);
    CHECK(settings_error(m.with({{"restart.window", "2592000.001"}})) ==
          "restart.window | expected a number of seconds from 0 to 2592000 (30 days), got "
          "'2592000.001'");
    CHECK(settings_error(m.with({{"restart.max_delay", "1e300"}})) ==
          "restart.max_delay | expected a number of seconds from 0 to 2592000 (30 days), got "
          "'1e300'");
    // A sub-millisecond delay is 1 ms, not 0.
    auto tiny = m.parse({{"restart.initial_delay", "0.0001"}});
    CHECK(tiny.restart.initial_delay_s == Approx(0.001));
}

TEST_CASE("parse_settings rejects unknown keys", "[llama_server][settings]") {
    ModelDir m;
    CHECK(settings_error(m.with({{"llama_server.modle", "/m.gguf"}})) ==
          "llama_server.modle | unknown key (known: binary, model, ctx_size, threads, "
          "n_gpu_layers, parallel, mmproj, embeddings, alias, api_key, args)");
    CHECK(settings_error(m.with({{"restart.retries", "3"}})) ==
          "restart.retries | unknown key (known: restart.initial_delay, max_delay, max_retries, "
          "window, stable_after, load_error_retries, jitter)");
    CHECK(settings_error(m.with({{"ctx_size", "4096"}})) == "ctx_size | unknown key");
}

TEST_CASE("parse_settings refuses an api_key llama-server or a header cannot carry",
          "[llama_server][settings]") {
    ModelDir m;
    CHECK(settings_error(m.with({{"llama_server.api_key", "  "}})) ==
          "llama_server.api_key | empty (leave it unset and every start gets a fresh random key)");
    const std::string bad =
        "llama_server.api_key | may not contain commas, spaces or control "
        "characters";
    for (const char* key : {"two,keys", "with space", "tab\there", "bell\a"}) {
        CAPTURE(key);
        std::string error = settings_error(m.with({{"llama_server.api_key", key}}));
        CHECK(error == bad);
        CHECK(error.find(key) == std::string::npos);  // a secret is never repeated
    }
    CHECK(m.parse({{"llama_server.api_key", "A-z_0.9~!"}}).api_key == std::string("A-z_0.9~!"));
}

TEST_CASE("parse_settings refuses --api-key in args: argv is public", "[llama_server][settings]") {
    ModelDir m;
    const std::string refusal =
        "llama_server.args | --api-key would put a secret on the command line, where every "
        "local user can read it; set llama_server.api_key instead (or leave it unset for a "
        "random key per start)";
    for (const char* args :
         {"--api-key s3cret", "--metrics --api_key s3cret", "--api-key=s3cret"}) {
        CAPTURE(args);
        std::string error = settings_error(m.with({{"llama_server.args", args}}));
        CHECK(error == refusal);
        CHECK(error.find("s3cret") == std::string::npos);
    }
    // A file of extra keys is not a secret on the command line.
    CHECK(m.parse({{"llama_server.args", "--api-key-file /etc/keys"}}).extra_args ==
          Strings{"--api-key-file", "/etc/keys"});
}

TEST_CASE("parse_settings checks the model and mmproj files", "[llama_server][settings]") {
    ge_test::TempDir dir;
    CHECK(settings_error({}) == "llama_server.model | missing (path to a .gguf file)");
    CHECK(settings_error({{"llama_server.model", "  "}}) ==
          "llama_server.model | missing (path to a .gguf file)");
    const std::string missing = dir.path() + "/missing.gguf";
    CHECK(settings_error({{"llama_server.model", missing}}) ==
          "llama_server.model | file not found: " + missing);
    CHECK(settings_error({{"llama_server.model", dir.path()}}) ==
          "llama_server.model | not a regular file: " + dir.path());
    const std::string model = dir.write("m.gguf", "GGUF");
    CHECK(settings_error({{"llama_server.model", model}, {"llama_server.mmproj", missing}}) ==
          "llama_server.mmproj | file not found: " + missing);
}

TEST_CASE("parse_settings resolves the binary or names it", "[llama_server][settings]") {
    ModelDir m;
    CHECK(settings_error(m.with({{"llama_server.binary", "llama-srv"}})) ==
          "llama_server.binary | 'llama-srv' not found on PATH (set it to the full path of "
          "llama-server)");
    CHECK(settings_error(m.with({{"llama_server.binary", "/usr/bin/nope"}})) ==
          "llama_server.binary | not an executable file: /usr/bin/nope");
    CHECK(settings_error(m.with({{"llama_server.binary", " "}})) == "llama_server.binary | empty");
}

TEST_CASE("parse_settings: restart.max_delay below restart.initial_delay",
          "[llama_server][settings]") {
    ModelDir m;
    CHECK(settings_error(m.with({{"restart.initial_delay", "5"}, {"restart.max_delay", "2"}})) ==
          "restart.max_delay | must not be below restart.initial_delay");
    // Equal is fine: a constant delay.
    CHECK(
        m.parse({{"restart.initial_delay", "2"}, {"restart.max_delay", "2"}}).restart.max_delay_s ==
        2);
}

// ---------------------------------------------------------------- RestartPolicy

namespace {

RestartSettings no_jitter() {
    RestartSettings r;
    r.jitter = 0;
    return r;
}

// A crash after running a while, but not long enough to count as stable.
ChildExit crash(uint64_t now_ms) {
    ChildExit e;
    e.exit_code = -1;
    e.signal = 11;
    e.was_ready = true;
    e.ready_ms = 1000;
    e.now_ms = now_ms;
    return e;
}

const char* const kLoadFailure =
    "llama_model_load: error loading model: tensor data is not within file bounds\n"
    "common_init_from_params: failed to load model '/m.gguf'\n"
    "main: exiting due to model loading error\n";

ChildExit load_failure(uint64_t now_ms) {
    ChildExit e;
    e.exit_code = 1;
    e.was_ready = false;
    e.now_ms = now_ms;
    e.stderr_tail = kLoadFailure;
    return e;
}

}  // namespace

TEST_CASE("restart delays double from initial_delay up to max_delay", "[llama_server][restart]") {
    RestartSettings r = no_jitter();
    r.max_retries = 100;
    RestartPolicy policy(r, 1);
    std::vector<uint32_t> delays;
    for (uint64_t i = 0; i < 9; ++i) {
        Decision d = policy.on_exit(crash(i * 1000));
        REQUIRE(d.restart);
        CHECK(d.reason == "killed by signal 11");
        delays.push_back(d.delay_ms);
    }
    CHECK(delays == std::vector<uint32_t>{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000});
}

TEST_CASE("a huge max_delay saturates instead of overflowing the milliseconds",
          "[llama_server][restart]") {
    RestartSettings r = no_jitter();
    r.initial_delay_s = 1;
    r.max_delay_s = 1e7;  // "no cap": 2^23 s is already past UINT32_MAX ms
    r.max_retries = 100;
    r.window_s = 1e9;
    RestartPolicy policy(r, 1);
    std::vector<uint32_t> delays;
    for (uint64_t i = 0; i < 25; ++i) delays.push_back(policy.on_exit(crash(i)).delay_ms);
    CHECK(delays[22] == 4194304000u);  // 2^22 s, still fits
    CHECK(delays[23] == 4294967295u);
    CHECK(delays[24] == 4294967295u);
}

TEST_CASE("jitter spreads delays within its fraction, deterministically per seed",
          "[llama_server][restart]") {
    RestartSettings r;  // jitter 0.2
    r.max_retries = 100;
    RestartPolicy a(r, 42), b(r, 42);
    std::vector<uint32_t> first, second;
    for (uint64_t i = 0; i < 8; ++i) {
        first.push_back(a.on_exit(crash(i)).delay_ms);
        second.push_back(b.on_exit(crash(i)).delay_ms);
    }
    CHECK(first == second);
    const double base[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
    bool any_spread = false;
    for (size_t i = 0; i < first.size(); ++i) {
        CAPTURE(i, first[i]);
        CHECK(first[i] >= base[i] * 0.8 - 1);
        CHECK(first[i] <= std::min(base[i] * 1.2, 30000.0));  // never above max_delay
        any_spread = any_spread || first[i] != base[i];
    }
    CHECK(any_spread);
}

TEST_CASE("restarts give up after max_retries within the window", "[llama_server][restart]") {
    RestartPolicy policy(no_jitter(), 1);  // 5 restarts per 300 s
    for (uint64_t i = 0; i < 5; ++i) REQUIRE(policy.on_exit(crash(i * 1000)).restart);
    Decision d = policy.on_exit(crash(5000));
    CHECK_FALSE(d.restart);
    CHECK(d.delay_ms == 0);
    CHECK(d.reason == "gave up after 5 restarts within 300 s; last: killed by signal 11");
}

TEST_CASE("restarts older than the window no longer count", "[llama_server][restart]") {
    RestartSettings r = no_jitter();
    r.max_retries = 2;
    r.window_s = 10;
    RestartPolicy policy(r, 1);
    CHECK(policy.on_exit(crash(0)).restart);
    CHECK(policy.on_exit(crash(1000)).restart);
    // The restart at 0 is more than 10 s old: one slot is free again.
    Decision later = policy.on_exit(crash(10500));
    CHECK(later.restart);
    CHECK(later.delay_ms == 2000);  // the backoff keeps growing
    // The ones at 1000 and 10500 are both within 10 s of 10600.
    Decision d = policy.on_exit(crash(10600));
    CHECK_FALSE(d.restart);
    CHECK(d.reason == "gave up after 2 restarts within 10 s; last: killed by signal 11");
}

TEST_CASE("a stable run resets the restart budget and the backoff", "[llama_server][restart]") {
    RestartSettings r = no_jitter();
    r.max_retries = 2;
    r.window_s = 3600;
    r.stable_after_s = 60;
    RestartPolicy policy(r, 1);
    REQUIRE(policy.on_exit(crash(0)).restart);
    REQUIRE(policy.on_exit(crash(1000)).restart);

    SECTION("ready for stable_after: a fresh budget") {
        ChildExit e = crash(70000);
        e.ready_ms = 60000;
        Decision d = policy.on_exit(e);
        CHECK(d.restart);
        CHECK(d.delay_ms == 500);
    }
    SECTION("ready just short of stable_after: still out of budget") {
        ChildExit e = crash(70000);
        e.ready_ms = 59999;
        CHECK_FALSE(policy.on_exit(e).restart);
    }
}

TEST_CASE("a model that will not load is retried load_error_retries times",
          "[llama_server][restart]") {
    RestartSettings r = no_jitter();
    r.max_retries = 100;  // the load-error limit must bite first
    RestartPolicy policy(r, 1);
    const std::string what =
        "exited with code 1 while loading: common_init_from_params: failed to load model "
        "'/m.gguf'";
    Decision first = policy.on_exit(load_failure(0));
    CHECK(first.restart);
    CHECK(first.reason == what);
    CHECK(policy.on_exit(load_failure(1000)).restart);
    Decision d = policy.on_exit(load_failure(2000));
    CHECK_FALSE(d.restart);
    CHECK(d.reason == "could not load 3 times; check the model's config (" + what + ")");
}

TEST_CASE("what counts as a load error", "[llama_server][restart]") {
    RestartSettings r = no_jitter();
    r.load_error_retries = 0;  // the first load error gives up
    SECTION("core could not start the program") {
        ChildExit e;
        e.core_reason = "could not start /usr/bin/llama-server: Permission denied";
        e.exec_failed = true;
        Decision d = RestartPolicy(r, 1).on_exit(e);
        CHECK_FALSE(d.restart);
        CHECK(d.reason ==
              "could not load 1 times; check the model's config (could not start "
              "/usr/bin/llama-server: Permission denied)");
    }
    SECTION("a resource shortage at start is not a load error, whatever its wording") {
        ChildExit e;
        e.core_reason = "could not start /usr/bin/llama-server: cannot create a thread";
        CHECK(RestartPolicy(r, 1).on_exit(e).restart);
    }
    SECTION("the same stderr after the model was ready is a crash") {
        ChildExit e = load_failure(0);
        e.was_ready = true;
        CHECK(RestartPolicy(r, 1).on_exit(e).restart);
    }
    SECTION("another exit code is a crash") {
        ChildExit e = load_failure(0);
        e.exit_code = 2;
        CHECK(RestartPolicy(r, 1).on_exit(e).restart);
    }
    SECTION("exit 1 while loading without a known message is a crash") {
        ChildExit e = load_failure(0);
        e.stderr_tail = "something else went wrong\n";
        CHECK(RestartPolicy(r, 1).on_exit(e).restart);
    }
}

TEST_CASE("describe_exit texts", "[llama_server][restart]") {
    ChildExit e;
    e.exit_code = 0;
    e.was_ready = true;
    CHECK(describe_exit(e) == "exited with code 0");

    e.exit_code = 1;
    e.was_ready = false;
    e.stderr_tail = "first line\nlast line\n\n   \n";
    CHECK(describe_exit(e) == "exited with code 1 while loading: last line");

    // A known llama-server error wins over the last line.
    e.stderr_tail =
        "start\ncouldn't bind HTTP server socket, hostname: 127.0.0.1, port: 8123\nexiting\n";
    CHECK(describe_exit(e) ==
          "exited with code 1 while loading: couldn't bind HTTP server socket, hostname: "
          "127.0.0.1, port: 8123");

    ChildExit killed;
    killed.exit_code = -1;
    killed.signal = 9;
    killed.was_ready = true;
    killed.stderr_tail = "oom";
    CHECK(describe_exit(killed) == "killed by signal 9: oom");

    ChildExit stopped;
    stopped.signal = 15;
    stopped.was_ready = true;
    stopped.stopped_by_core = true;
    stopped.core_reason = "liveness probe failed 3 times";
    stopped.stderr_tail = "noise";  // the core's reason says it all
    CHECK(describe_exit(stopped) == "stopped: liveness probe failed 3 times");

    ChildExit not_started;
    not_started.core_reason = "could not start llama-server: No such file";
    CHECK(describe_exit(not_started) == "could not start llama-server: No such file");

    ChildExit long_line;
    long_line.exit_code = 3;
    long_line.was_ready = true;
    long_line.stderr_tail = std::string(200, 'x');
    CHECK(describe_exit(long_line) == "exited with code 3: " + std::string(160, 'x') + "...");
}
