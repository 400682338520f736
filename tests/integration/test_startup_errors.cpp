// Errors a user can cause at startup: each has its own exit code and names the culprit.
#include <Poco/Net/ServerSocket.h>
#include <catch2/catch.hpp>

#include "gradatum/plugin_abi.h"
#include "harness.hpp"

using namespace ge_test;

namespace {

constexpr int kExitUsage = 64;
constexpr int kExitNoInput = 66;
constexpr int kExitUnavailable = 69;
constexpr int kExitConfig = 78;

}  // namespace

TEST_CASE("an unknown key is a config error naming file and key", "[fake][errors]") {
    TempDir files;
    std::string model = files.write("m.gguf", "x");
    std::string output;
    int code = run_engine_once(
        fake_model_config("m", model, "") + "models.m.llama_server.ctx_sise = 4096\n", "properties",
        output);
    CHECK(code == kExitConfig);
    CHECK(output.find("engine.properties: models.m.llama_server.ctx_sise: unknown key") !=
          std::string::npos);
}

TEST_CASE("a missing model file is a config error naming the key and path", "[fake][errors]") {
    std::string output;
    int code = run_engine_once(fake_model_config("m", "/nonexistent/model.gguf", ""), "properties",
                               output);
    CHECK(code == kExitConfig);
    CHECK(output.find("models.m.llama_server.model: file not found: /nonexistent/model.gguf") !=
          std::string::npos);
}

TEST_CASE("a binary that cannot be found is a config error", "[fake][errors]") {
    TempDir files;
    std::string model = files.write("m.gguf", "x");
    std::string output;
    int code = run_engine_once(
        "models.m.backend = llama_server\n"
        "models.m.llama_server.binary = no-such-llama-server-binary\n"
        "models.m.llama_server.model = " +
            model + "\n",
        "properties", output);
    CHECK(code == kExitConfig);
    CHECK(output.find(
              "models.m.llama_server.binary: 'no-such-llama-server-binary' not found on PATH") !=
          std::string::npos);
}

TEST_CASE("a missing backend plugin names the model and the plugin id", "[fake][errors]") {
    std::string output;
    int code = run_engine_once("models.m.backend = vllm\n", "properties", output);
    CHECK(code == kExitConfig);
    CHECK(output.find("model 'm' needs backend plugin 'vllm'") != std::string::npos);
}

TEST_CASE("a port in use exits 69, names the address and starts no child", "[fake][errors]") {
    TempDir files;
    std::string model = files.write("m.gguf", "x");
    Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", 0));
    std::string address = "127.0.0.1:" + std::to_string(taken.address().port());
    std::string output;
    int code =
        run_engine_once("server.listen = " + address + "\n" + fake_model_config("m", model, ""),
                        "properties", output);
    CHECK(code == kExitUnavailable);
    CHECK(output.find("cannot listen on " + address) != std::string::npos);
    CHECK(output.find("server.listen") != std::string::npos);
    CHECK(output.find("child pid") == std::string::npos);
}

TEST_CASE("with several listeners, one that cannot bind exits 69 and starts no child",
          "[fake][errors]") {
    TempDir files;
    std::string model = files.write("m.gguf", "x");
    Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", 0));
    std::string busy = "127.0.0.1:" + std::to_string(taken.address().port());
    // 198.51.100.1 (TEST-NET-2, for documentation) is on no machine: EADDRNOTAVAIL.
    for (const std::string& second : {busy, std::string("198.51.100.1:8080")}) {
        CAPTURE(second);
        std::string output;
        int code = run_engine_once("server.listen = 127.0.0.1:" + std::to_string(free_port()) +
                                       ", " + second + "\n" + fake_model_config("m", model, ""),
                                   "properties", output);
        CHECK(code == kExitUnavailable);
        CHECK(output.find("cannot listen on " + second) != std::string::npos);
        CHECK(output.find("child pid") == std::string::npos);
    }
}

TEST_CASE("a wildcard, broadcast or duplicate listen address exits 78 before anything starts",
          "[fake][errors]") {
    TempDir files;
    std::string model = files.write("m.gguf", "x");
    const std::string port = std::to_string(free_port());
    for (const std::string& listen :
         {"0.0.0.0:" + port, "[::]:" + port, "127.0.0.1:" + port + ", 255.255.255.255:" + port,
          "224.0.0.1:" + port, "127.0.0.1:" + port + ", 127.0.0.1:" + port}) {
        CAPTURE(listen);
        std::string output;
        int code = run_engine_once(
            "server.listen = " + listen + "\n" + fake_model_config("m", model, "--fake-load-ms 0"),
            "properties", output);
        CHECK(code == kExitConfig);
        CHECK(output.find("server.listen: ") != std::string::npos);
        CHECK(output.find(":" + port + " is ") != std::string::npos);  // names the address
        CHECK(output.find("child pid") == std::string::npos);
        CHECK(output.find("listening on") == std::string::npos);
    }
}

TEST_CASE("a config file that cannot be read exits 66", "[fake][errors]") {
    std::string output;
    int code = run_engine_args({"--config", "/nonexistent/engine.properties"}, output);
    CHECK(code == kExitNoInput);
    CHECK(output.find("/nonexistent/engine.properties: cannot read config file") !=
          std::string::npos);
}

TEST_CASE("usage errors exit 64", "[fake][errors]") {
    std::string output;
    CHECK(run_engine_args({}, output) == kExitUsage);
    CHECK(output.find("--config FILE is required") != std::string::npos);
    output.clear();
    CHECK(run_engine_args({"--bogus"}, output) == kExitUsage);
    CHECK(output.find("Unknown option specified: bogus") != std::string::npos);
    output.clear();
    CHECK(run_engine_args({"--config"}, output) == kExitUsage);
    CHECK(output.find("config requires FILE") != std::string::npos);
}

TEST_CASE("the --version flag prints the engine and plugin ABI versions", "[fake][errors]") {
    std::string output;
    CHECK(run_engine_args({"--version"}, output) == 0);
    CHECK(output.find("gradatum-engine 0.1.0 (plugin ABI " + std::to_string(GE_ABI_MAJOR) + "." +
                      std::to_string(GE_ABI_MINOR) + ")") != std::string::npos);
}

TEST_CASE("a JSON config runs the same engine", "[fake][config]") {
    TempDir files;
    std::string model = files.write("m.gguf", "x");
    uint16_t port = free_port();
    std::string config =
        R"({"server": {"listen": "127.0.0.1:)" + std::to_string(port) +
        R"("}, "models": {"m": {"backend": "llama_server", "llama_server": {"binary": ")" +
        fake_llama_server() + R"(", "model": ")" + model + R"(", "args": "--fake-load-ms 0"}}}})";
    Engine engine(config, "json");
    REQUIRE(engine.wait_log("-> ready", 10s));
    CHECK(http(port, "GET", "/health").status == 200);
}
