// --check: validates everything a start would and starts nothing; every problem on its own line.
#include <unistd.h>
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace ge_test;

namespace {

constexpr int kExitProblems = 1;
constexpr int kExitUsage = 64;

struct CheckRun {
    int code;
    std::string output;
    std::string config_path;
};

CheckRun run_check(const std::string& config) {
    Engine engine(config, "properties", {"--check"});
    CheckRun run{engine.wait_exit(30s), "", engine.config_path()};
    engine.drain_output();
    run.output = engine.log();
    return run;
}

size_t count_lines_starting(const std::string& text, const std::string& start) {
    size_t n = 0, at = 0;
    while (at < text.size()) {
        size_t end = std::min(text.find('\n', at), text.size());
        n += text.compare(at, start.size(), start) == 0;
        at = end + 1;
    }
    return n;
}

}  // namespace

TEST_CASE("check mode: on a good config exits 0 with a summary and starts no child",
          "[fake][check]") {
    TempDir files;
    std::string model = files.write("m.gguf", "x");
    // The fake writes its argv to this file when it starts: it must stay absent.
    std::string started = files.path() + "/started";
    auto run = run_check(fake_model_config("m", model, "--fake-argv-file " + started));
    CAPTURE(run.output);
    CHECK(run.code == 0);
    CHECK(run.output.find(run.config_path + ": ok: 1 model [m (llama_server)], 1 listener") !=
          std::string::npos);
    CHECK(run.output.find("listening on") == std::string::npos);
    CHECK(run.output.find("child pid") == std::string::npos);
    usleep(300 * 1000);  // a child spawned anyway would have written by now
    CHECK(access(started.c_str(), F_OK) != 0);
}

TEST_CASE("check mode: reports every problem, one per line, and exits 1", "[fake][check]") {
    TempDir files;
    // Three problems found by three different checks: the config loader (an unknown key and a
    // bad value), the plugin (a missing model file) and the listen address (not on this machine:
    // 198.51.100.1 is TEST-NET-2, for documentation).
    auto run = run_check("server.listen = 127.0.0.1:" + std::to_string(free_port()) +
                         ", 198.51.100.1:8080\n"
                         "server.threds = 8\n"
                         "models.m.ready_timeout = soon\n" +
                         fake_model_config("m", "/nonexistent/model.gguf", ""));
    CAPTURE(run.output);
    CHECK(run.code == kExitProblems);
    const std::string& f = run.config_path;
    CHECK(run.output.find(f + ": server.threds: unknown key") != std::string::npos);
    CHECK(run.output.find(f + ": models.m.ready_timeout: ") != std::string::npos);
    CHECK(run.output.find(f + ": models.m.llama_server.model: file not found: "
                              "/nonexistent/model.gguf") != std::string::npos);
    CHECK(run.output.find(f + ": server.listen: http://198.51.100.1:8080: 198.51.100.1 is not an "
                              "address of this machine") != std::string::npos);
    CHECK(count_lines_starting(run.output, f + ": ") == 5);  // four problems and the count
    CHECK(run.output.find(f + ": 4 problems") != std::string::npos);
    CHECK(run.output.find("listening on") == std::string::npos);
}

TEST_CASE("check mode: names a missing plugin and an unreadable TLS certificate", "[fake][check]") {
    TempDir files;
    std::string port = std::to_string(free_port());
    auto run = run_check("server.listen = https://127.0.0.1:" + port +
                         "\n"
                         "server.tls.cert = " +
                         files.write("cert.pem", "not a certificate\n") +
                         "\n"
                         "server.tls.key = /nonexistent/server.key\n"
                         "models.v.backend = vllm\n");
    CAPTURE(run.output);
    CHECK(run.code == kExitProblems);
    CHECK(run.output.find(run.config_path + ": server.tls.key: file not found") !=
          std::string::npos);
    CHECK(run.output.find(run.config_path +
                          ": models.v.backend: model 'v' needs backend plugin 'vllm'") !=
          std::string::npos);
}

TEST_CASE("check mode: on an unreadable config file exits 1 naming it", "[fake][check]") {
    std::string output;
    CHECK(run_engine_args({"--check", "--config", "/nonexistent/engine.properties"}, output) ==
          kExitProblems);
    CHECK(output.find("/nonexistent/engine.properties: cannot read config file") !=
          std::string::npos);
}

TEST_CASE("check mode: usage errors exit 64", "[fake][check]") {
    std::string output;
    CHECK(run_engine_args({"--check"}, output) == kExitUsage);
    CHECK(output.find("--config FILE is required") != std::string::npos);
    output.clear();
    CHECK(run_engine_args({"--check", "--config", "x.properties", "extra"}, output) == kExitUsage);
    CHECK(output.find("unexpected argument 'extra'") != std::string::npos);
}

TEST_CASE("check mode: two models with aliases, a group and a model's own listener",
          "[fake][check]") {
    TempDir files;
    std::string model = files.write("m.gguf", "x");
    std::string own = "127.0.0.1:" + std::to_string(free_port());
    auto run = run_check(
        "server.max_running = 1\n"
        "server.default_model = a\n"
        "groups.gpu.exclusive = true\n"
        "models.a.aliases = first, primo\n"
        "models.a.group = gpu\n"
        "models.b.aliases = second\n"
        "models.b.group = gpu\n"
        "models.b.listen = " +
        own + "\n" + fake_model_config("a", model, "") + fake_model_config("b", model, ""));
    CAPTURE(run.output);
    CHECK(run.code == 0);
    CHECK(run.output.find(run.config_path +
                          ": ok: 2 models [a (llama_server), b (llama_server)], 2 listeners "
                          "[http://127.0.0.1:") != std::string::npos);
    CHECK(run.output.find(", http://" + own + " (b)]") != std::string::npos);
    CHECK(run.output.find("listening on") == std::string::npos);
}

TEST_CASE("check mode: reports every many-models problem, a model's listener included",
          "[fake][check]") {
    TempDir files;
    std::string model = files.write("m.gguf", "x");
    // 198.51.100.1 is TEST-NET-2 (for documentation): not an address of this machine.
    auto run = run_check(
        "server.default_model = second\n"
        "groups.gpu.exclusve = true\n"
        "models.a.aliases = first, b\n"
        "models.a.group = cpu\n"
        "models.a.listen = 198.51.100.1:8091\n"
        "models.b.aliases = second, first\n"
        "models.b.max_concurrent = -1\n" +
        fake_model_config("a", model, "") + fake_model_config("b", model, ""));
    CAPTURE(run.output);
    CHECK(run.code == kExitProblems);
    const std::string& f = run.config_path;
    for (const std::string line :
         {f + ": groups.gpu.exclusve: unknown key (known: exclusive)",
          f + ": models.b.max_concurrent: expected a whole number from 0 to 10000, got '-1'",
          f + ": models.a.aliases: 'b' is the name of model 'b'",
          f + ": models.b.aliases: 'first' is also an alias of model 'a' (models.a.aliases)",
          f + ": models.a.group: no group named 'cpu' (configured: gpu); add "
              "groups.cpu.exclusive = true or false",
          f + ": server.default_model: 'second' is an alias of model 'b'; name the model",
          f + ": models.a.listen: http://198.51.100.1:8091: 198.51.100.1 is not an address of "
              "this machine"}) {
        CHECK(run.output.find(line + "\n") != std::string::npos);
    }
    CHECK(count_lines_starting(run.output, f + ": ") == 8);  // seven problems and the count
    CHECK(run.output.find(f + ": 7 problems") != std::string::npos);
}
