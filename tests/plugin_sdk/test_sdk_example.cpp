// The example C plugin, built out of tree against the installed SDK (build_example.sh, the
// fixture that runs first), serves through the engine: once as built with CMake and installed
// into the prefix's plugin directory, once as built with pkg-config and cc.
#include <catch2/catch.hpp>

#include "gradatum/plugin_abi.h"
#include "harness.hpp"

using namespace ge_test;

namespace {

const std::string kOut = GE_SDK_EXAMPLE_DIR;

// Model m run by the example plugin: the fake llama-server with `args`.
std::string example_model(const std::string& args, const std::string& extra = "") {
    return "models.m.backend = example\n"
           "models.m.example.binary = " +
           fake_llama_server() + "\nmodels.m.example.args = " + args + "\n" + extra;
}

}  // namespace

TEST_CASE("the example plugin built against the installed SDK serves a chat", "[sdk]") {
    std::string plugins;
    SECTION("built with CMake, installed into GRADATUM_ENGINE_PLUGIN_DIR") {
        plugins = kOut + "/prefix/lib/gradatum-engine/plugins";
    }
    SECTION("built with pkg-config and cc") {
        plugins = kOut + "/pc";
    }
    TempDir files;
    std::string model = files.write("m.gguf", "GGUF");
    // liveness.generate: the engine takes it only from a plugin with generation_probe_request.
    Engine engine(example_model("--model " + model, "models.m.liveness.generate = true\n"),
                  "properties", {}, {}, plugins);
    REQUIRE(engine.wait_health(200, 10s));
    CHECK(engine.log_contains("plugin example 0.1.0 loaded from " + plugins + "/example.so (ABI " +
                              std::to_string(GE_ABI_MAJOR) + "." + std::to_string(GE_ABI_MINOR) +
                              ")"));
    CHECK(engine.log_contains("plugin example: model m runs " + fake_llama_server()));
    auto answer = http(engine.port(), "POST", "/v1/chat/completions", kChat,
                       {{"Content-Type", "application/json"}});
    CHECK(answer.status == 200);
    CHECK(answer.body.find("chat.completion") != std::string::npos);
}

TEST_CASE("the example plugin restarts a few times, then gives up", "[sdk]") {
    TempDir files;
    std::string model = files.write("m.gguf", "GGUF");
    // The fake dies at once with exit code 1, like a llama-server whose model cannot load.
    Engine engine(example_model("--model " + model + " --fake-exit-at-start 1",
                                "models.m.example.max_restarts = 1\n"),
                  "properties", {}, {}, kOut + "/pc");
    CHECK(engine.wait_log("exited with code 1; restarting in 1000 ms", 10s));
    CHECK(engine.wait_log("exited with code 1; giving up after 1 restart(s) in a row", 10s));
}

TEST_CASE("the example plugin names the key it refuses", "[sdk]") {
    TempDir files;
    std::string model = files.write("m.gguf", "GGUF");
    SECTION("an unknown key") {
        Engine engine(example_model("--model " + model, "models.m.example.bianry = x\n"),
                      "properties", {}, {}, kOut + "/pc");
        CHECK(engine.wait_exit(10s) == 78);
        engine.drain_output();
        CHECK(engine.log_contains(engine.config_path() +
                                  ": models.m.example.bianry: unknown key (known: example.binary, "
                                  "example.args, example.max_restarts)"));
    }
    SECTION("a binary that is not there") {
        Engine engine("models.m.backend = example\nmodels.m.example.binary = no-such-ge-binary\n",
                      "properties", {}, {}, kOut + "/pc");
        CHECK(engine.wait_exit(10s) == 78);
        engine.drain_output();
        CHECK(engine.log_contains(engine.config_path() +
                                  ": models.m.example.binary: 'no-such-ge-binary' is not an "
                                  "executable file (nor a program on PATH)"));
    }
}
