// Plugins through the engine binary: an ABI 1.0 plugin serves on this host, and a plugin that
// crashes, blocks or shares another's id is reported, naming the plugin, callback and files.
#include <signal.h>
#include <sys/resource.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "harness.hpp"

using namespace ge_test;

namespace {

const std::string kTestPlugins = GE_TEST_PLUGIN_DIR;

// Test plugins to copy: {built file, name in the directory}.
using Copies = std::vector<std::pair<std::string, std::string>>;

// A plugin directory holding copies of test plugins, each under its own name.
struct PluginDir {
    TempDir dir;
    explicit PluginDir(const Copies& plugins) {
        for (const auto& [from, to] : plugins)
            std::filesystem::copy_file(kTestPlugins + "/" + from, dir.path() + "/" + to);
    }
    const std::string& path() const { return dir.path(); }
};

std::string misbehaving_model(const std::string& extra) {
    return "models.m.backend = test_misbehaving\n" + extra;
}

// A crash dumps no core: the test only wants the exit status and the message.
void no_core_dumps() {
    rlimit none{0, 0};
    setrlimit(RLIMIT_CORE, &none);
}

}  // namespace

TEST_CASE("a plugin built against the frozen ABI 1.0 header serves through this host",
          "[fake][abi]") {
    PluginDir plugins(Copies{{"test_abi_1_0.so", "test_abi_1_0.so"}});
    TempDir files;
    std::string model = files.write("m.gguf", "GGUF");
    Engine engine(
        "models.m.backend = test_abi_1_0\n"
        "models.m.old.binary = " +
            fake_llama_server() + "\nmodels.m.old.model = " + model + "\n",
        "properties", {}, {}, plugins.path());
    REQUIRE(engine.wait_health(200, 10s));
    CHECK(engine.log_contains("plugin test_abi_1_0 1.0.0 loaded from " + plugins.path() +
                              "/test_abi_1_0.so (ABI 1.0)"));
    auto answer = http(engine.port(), "POST", "/v1/chat/completions", kChat,
                       {{"Content-Type", "application/json"}});
    CHECK(answer.status == 200);
    CHECK(answer.body.find("chat.completion") != std::string::npos);

    // Its on_exit reads a 1.0 ge_exit_info_t out of the host's larger one.
    pid_t child = only_child(engine);
    REQUIRE(child > 0);
    kill_child(child, SIGKILL);
    CHECK(engine.wait_log("1.0 plugin: exit code -1, signal 9, was ready", 10s));
}

TEST_CASE("a crash in a plugin callback is loud: plugin, callback and model on stderr",
          "[fake][isolation]") {
    no_core_dumps();
    PluginDir plugins(Copies{{"test_misbehaving.so", "test_misbehaving.so"}});
    std::string output;
    std::string callback;
    SECTION("in the model's control thread") {
        callback = "spawn_spec";
    }
    SECTION("on the main thread, while the engine starts") {
        callback = "create";
    }
    int code =
        run_engine_once(misbehaving_model("models.m.misbehave.crash_in = " + callback + "\n"),
                        "properties", output, {}, plugins.path());
    CAPTURE(output);
    CHECK(code == 128 + SIGSEGV);  // it dies of the signal, as without the handler
    CHECK(output.find("gradatum-engine: fatal signal 11 (SIGSEGV) in plugin test_misbehaving "
                      "9.8.7, callback " +
                      callback + ", model m; the engine stops (plugins run in its process)") !=
          std::string::npos);
}

TEST_CASE("a plugin callback that blocks past the limit is logged while it blocks",
          "[fake][isolation]") {
    PluginDir plugins(Copies{{"test_misbehaving.so", "test_misbehaving.so"}});
    TempDir files;
    std::string model = files.write("m.gguf", "GGUF");
    Engine engine(misbehaving_model("models.m.misbehave.sleep_in = probe_request\n"
                                    "models.m.misbehave.sleep_ms = 1600\n"
                                    "models.m.misbehave.binary = " +
                                    fake_llama_server() +
                                    "\n"
                                    "models.m.misbehave.args = --model " +
                                    model + "\n"),
                  "properties", {}, {}, plugins.path());
    const std::string call = "plugin test_misbehaving 9.8.7: probe_request for model m";
    REQUIRE(engine.wait_log(call + " has not returned after ", 10s));
    CHECK_FALSE(engine.log_contains(call + " took"));  // it is still blocked
    REQUIRE(engine.wait_log(call + " took ", 10s));
    // Then it goes on as usual.
    CHECK(engine.wait_health(200, 10s));
}

TEST_CASE("a second plugin with the same id is refused, naming both files", "[fake][isolation]") {
    PluginDir plugins(
        Copies{{"test_misbehaving.so", "a_first.so"}, {"test_misbehaving.so", "b_again.so"}});
    Engine engine(misbehaving_model(""), "properties", {}, {}, plugins.path());
    CHECK(engine.wait_log("plugin " + plugins.path() +
                              "/b_again.so refused: plugin id 'test_misbehaving' is already "
                              "loaded from " +
                              plugins.path() + "/a_first.so",
                          10s));
    CHECK(engine.wait_log(
        "plugin test_misbehaving 9.8.7 loaded from " + plugins.path() + "/a_first.so", 10s));
}
