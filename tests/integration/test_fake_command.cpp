// The command backend: the fake llama-server and a tiny Python OpenAI-compatible server, each
// started from command.argv, serve through the engine; its config errors name their key.
#include <Poco/String.h>
#include <signal.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

namespace {

constexpr int kExitConfig = 78;

// Model "m" run by the fake llama-server through the command backend.
std::string fake_command_config(const std::string& model_path, const std::string& args,
                                const std::string& extra = "") {
    return "models.m.backend = command\n"
           "models.m.command.argv = " +
           fake_llama_server() + " --model " + model_path + " " + args + "\n" + extra;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The fake's --fake-argv-file: each argument ended by a NUL.
std::vector<std::string> argv_words(const std::string& path) {
    std::vector<std::string> words;
    std::istringstream in(read_file(path));
    for (std::string word; std::getline(in, word, '\0');) words.push_back(word);
    return words;
}

// The headers the fake got with its last request, by name as they arrived.
json last_request_headers(uint16_t engine_port) {
    auto last = http(engine_port, "GET", "/fake/last-request");
    REQUIRE(last.status == 200);
    return json::parse(last.body)["headers"];
}

std::string tiny_server_dir() {
    return source_dir() + "/tests/command";
}

std::string chat_for(const std::string& model) {
    return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}]})";
}

}  // namespace

TEST_CASE("command: the fake llama-server from command.argv, {host}, {port} and {model_name}",
          "[fake][command]") {
    TempDir files;
    std::string model = files.write("model.gguf", "x");
    std::string argv_file = files.path() + "/argv";
    Engine engine(fake_command_config(model,
                                      "--host {host} --port {port} --alias served-{model_name} "
                                      "--fake-load-ms 0 --fake-argv-file " +
                                          argv_file));
    REQUIRE(engine.wait_health(200, 10s));
    uint16_t port = child_port(engine);
    REQUIRE(port != 0);

    CHECK(http(engine.port(), "POST", "/v1/chat/completions", kChat).status == 200);

    // Whole words and the inside of a word alike; argv[0] as written.
    CHECK(argv_words(argv_file) ==
          std::vector<std::string>{fake_llama_server(), "--model", model, "--host", "127.0.0.1",
                                   "--port", std::to_string(port), "--alias", "served-m",
                                   "--fake-load-ms", "0", "--fake-argv-file", argv_file});
    // The engine's state and its restarts are the supervisor's, as with llama_server.
    // The log is asynchronous: the line may come after /health answered.
    CHECK(engine.wait_log("model m: starting -> ready", 5s));
    CHECK(engine.stop() == 0);
}

TEST_CASE("command: key_env gives every child a fresh key that the engine sends",
          "[fake][command][secret]") {
    TempDir files;
    std::string model = files.write("model.gguf", "x");
    // The fake, like llama-server, takes its key from LLAMA_API_KEY.
    Engine engine(fake_command_config(model, "--port {port} --fake-load-ms 0",
                                      "models.m.command.key_env = LLAMA_API_KEY\n"
                                      "logging.level = trace\n"));
    REQUIRE(engine.wait_health(200, 10s));
    pid_t pid = only_child(engine);
    REQUIRE(pid > 0);
    const std::string key = child_api_key(pid);
    REQUIRE(key.size() == 64);
    uint16_t direct = child_port(engine);
    CHECK(http(direct, "POST", "/v1/chat/completions", kChat).status == 401);

    // A client's own Authorization does not displace the child's key.
    CHECK(http(engine.port(), "POST", "/v1/chat/completions", kChat,
               {{"Authorization", "Bearer sk-client"}})
              .status == 200);
    CHECK(last_request_headers(engine.port())["Authorization"] == "Bearer " + key);

    // A restarted child gets a new key, and the engine follows.
    kill_child(pid, SIGKILL);
    REQUIRE(wait_until(
        [&] {
            pid_t next = only_child(engine);
            return next > 0 && next != pid && !child_api_key(next).empty();
        },
        10s));
    REQUIRE(engine.wait_log_count("starting -> ready", 2, 10s));
    const std::string second = child_api_key(only_child(engine));
    CHECK(second != key);
    CHECK(http(engine.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    CHECK(engine.stop() == 0);
    engine.drain_output();
    CHECK_FALSE(engine.log_contains(key));
    CHECK_FALSE(engine.log_contains(second));
}

TEST_CASE("command: header.<Name> goes with every forwarded request and replaces the client's",
          "[fake][command]") {
    TempDir files;
    std::string model = files.write("model.gguf", "x");
    Engine engine(fake_command_config(model, "--port {port} --fake-load-ms 0",
                                      "models.m.command.header.X-Backend-Token = t0ken\n"));
    REQUIRE(engine.wait_health(200, 10s));
    CHECK(http(engine.port(), "POST", "/v1/chat/completions", kChat,
               {{"x-backend-token", "from-the-client"}})
              .status == 200);
    auto headers = last_request_headers(engine.port());
    std::vector<std::string> seen;
    for (auto& [name, value] : headers.items()) {
        if (Poco::icompare(name, "X-Backend-Token") == 0) seen.push_back(value);
    }
    CHECK(seen == std::vector<std::string>{"t0ken"});
    CHECK(engine.stop() == 0);
}

TEST_CASE("command: a server that will not start uses the shared restart.* budget",
          "[fake][command][restart]") {
    TempDir files;
    std::string model = files.write("model.gguf", "x");
    Engine engine(fake_command_config(model, "--port {port} --fake-exit-at-start 3",
                                      "models.m.restart.initial_delay = 0.05\n"
                                      "models.m.restart.max_delay = 0.1\n"
                                      "models.m.restart.load_error_retries = 1\n"));
    // A non-zero exit before ready is a load error: one retry, then the model is failed.
    REQUIRE(
        engine.wait_log("could not load 2 times; check the model's config (exited with code "
                        "3 while loading: main: failed to load model (--fake-exit-at-start))",
                        10s));
    CHECK(engine.log_count("model m: starting -> backoff") == 1);
    CHECK(engine.wait_log("model m: starting -> failed", 5s));
    CHECK(engine.stop() == 0);
}

TEST_CASE("command: config errors name models.<name>.command.<key>", "[fake][command][errors]") {
    TempDir files;
    std::string model = files.write("model.gguf", "x");
    auto error_of = [](const std::string& config) {
        std::string output;
        int code = run_engine_once(config, "properties", output);
        CHECK(code == kExitConfig);
        return output;
    };
    SECTION("a placeholder typo") {
        auto output = error_of(fake_command_config(model, "--port {prot}"));
        CHECK(output.find("engine.properties: models.m.command.argv: word 5 ('{prot}'): unknown "
                          "placeholder {prot} (known: {port}, {host}, {model_name}; write {{ and "
                          "}} for literal braces)") != std::string::npos);
    }
    SECTION("no argv") {
        auto output = error_of("models.m.backend = command\n");
        CHECK(output.find("engine.properties: models.m.command.argv: missing") !=
              std::string::npos);
    }
    SECTION("a program that is not there") {
        auto output = error_of(
            "models.m.backend = command\n"
            "models.m.command.argv = no-such-server-program --port {port}\n");
        CHECK(output.find("models.m.command.argv: 'no-such-server-program' not found on PATH") !=
              std::string::npos);
    }
    SECTION("an unknown key under command.") {
        auto output = error_of(fake_command_config(model, "--port {port}") +
                               "models.m.command.workdri = /tmp\n");
        CHECK(output.find("models.m.command.workdri: unknown key (known: command.argv") !=
              std::string::npos);
    }
    SECTION("liveness.generate: the command backend has no generation probe") {
        auto output = error_of(fake_command_config(model, "--port {port}") +
                               "models.m.liveness.generate = true\n");
        CHECK(output.find("models.m.liveness.generate: plugin command 0.1.0") != std::string::npos);
    }
    SECTION("keep_cache: the command backend has no state to save") {
        TempDir cache;
        auto output =
            error_of(fake_command_config(model, "--port {port}") +
                     "models.m.keep_cache = true\nserver.cache_dir = " + cache.path() + "\n");
        CHECK(output.find("models.m.keep_cache: plugin command 0.1.0 (ABI 1.4) cannot save and "
                          "restore its child's state (handover_step, ABI 1.4)") !=
              std::string::npos);
    }
}

TEST_CASE("command: --check reports every command backend's problem", "[fake][command][errors]") {
    TempDir files;
    std::string config = files.write("engine.properties",
                                     "models.a.backend = command\n"
                                     "models.a.command.argv = " +
                                         fake_llama_server() +
                                         " --port {port}\n"
                                         "models.a.command.ready_status = ok\n"
                                         "models.b.backend = command\n"
                                         "models.b.command.argv = " +
                                         fake_llama_server() + " --port 8080\n");
    std::string output;
    CHECK(run_engine_args({"--check", "--config", config}, output) == 1);
    CHECK(output.find("models.a.command.ready_status: expected HTTP status codes") !=
          std::string::npos);
    CHECK(output.find("models.b.command.argv: nothing tells the child its port") !=
          std::string::npos);
}

TEST_CASE("command: a Python OpenAI-compatible server with port_env, env, workdir and key_env",
          "[fake][command][python]") {
    Engine engine(
        "models.py.backend = command\n"
        // A relative script: the child starts in command.workdir.
        "models.py.command.argv = python3 -u tiny_openai_server.py --served-as {model_name}\n"
        "models.py.command.workdir = " +
        tiny_server_dir() +
        "\n"
        "models.py.command.port_env = PORT\n"
        "models.py.command.env.HOST = {host}\n"
        "models.py.command.env.ANSWER = a fixed answer\n"
        "models.py.command.env.LOAD_SECONDS = 0.3\n"
        "models.py.command.key_env = API_KEY\n");
    REQUIRE(engine.wait_health(200, 30s));
    // /health answered 503 while it "loaded": not ready until it said 200.
    CHECK(engine.wait_log("tiny_openai_server: \"GET /health HTTP/1.1\" 503", 5s));
    uint16_t direct = child_port(engine);
    REQUIRE(direct != 0);
    CHECK(http(direct, "POST", "/v1/chat/completions", chat_for("py")).status == 401);

    auto answer = http(engine.port(), "POST", "/v1/chat/completions", chat_for("py"));
    REQUIRE(answer.status == 200);
    auto body = json::parse(answer.body);
    CHECK(body["choices"][0]["message"]["content"] == "a fixed answer");
    CHECK(body["model"] == "py");
    CHECK(body["tiny"]["cwd"] == tiny_server_dir());
    CHECK(body["tiny"]["argv"] == json::array({"tiny_openai_server.py", "--served-as", "py"}));
    CHECK(engine.stop() == 0);
}

TEST_CASE("command: env and header keys keep their case in an .ini config",
          "[fake][command][python]") {
    uint16_t port = free_port();
    Engine engine("[server]\nlisten = 127.0.0.1:" + std::to_string(port) +
                      "\n\n"
                      "[models.py]\nbackend = command\n\n"
                      "[models.py.command]\n"
                      "argv = python3 -u tiny_openai_server.py\n"
                      "workdir = " +
                      tiny_server_dir() +
                      "\n"
                      "port_env = PORT\n"
                      "health_path = /health\n"
                      "ready_status = 200, 204\n\n"
                      "[models.py.command.env]\n"
                      "ANSWER = from the ini file\n"
                      "API_KEY = configured-key\n\n"
                      "[models.py.command.header]\n"
                      "Authorization = Bearer configured-key\n",
                  "ini");
    REQUIRE(wait_until([&] { return engine.log_contains("model py: starting -> ready"); }, 30s));
    auto answer = http(port, "POST", "/v1/chat/completions", chat_for("py"));
    REQUIRE(answer.status == 200);
    CHECK(json::parse(answer.body)["choices"][0]["message"]["content"] == "from the ini file");
    CHECK(engine.stop() == 0);
}
