// Plugin loading and ABI checks, the engine's check that every model has its plugin, and the
// llama_server plugin's config errors as the core reports them.
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "engine.hpp"
#include "plugin/backend_instance.hpp"
#include "plugin/plugin_registry.hpp"
#include "process/program_lookup.hpp"
#include "temp_dir.hpp"

using ge_test::TempDir;
using gradatum::BackendInstance;
using gradatum::ConfigError;
using gradatum::Plugin;
using gradatum::PluginRegistry;
using Strings = std::vector<std::string>;

namespace {

const std::string kEngineAbi = std::to_string(GE_ABI_MAJOR) + "." + std::to_string(GE_ABI_MINOR);

const std::string kTestPlugins = GE_TEST_PLUGIN_DIR;
const std::string kGood = kTestPlugins + "/test_good.so";
const std::string kAbi99 = kTestPlugins + "/test_abi99.so";
const std::string kMinor7 = kTestPlugins + "/test_minor7.so";
const std::string kInitFails = kTestPlugins + "/test_init_fails.so";
const std::string kSmallFactory = kTestPlugins + "/test_small_factory.so";
const std::string kNoEntry = kTestPlugins + "/test_no_entry.so";
const std::string kUndefined = kTestPlugins + "/test_undefined.so";
const std::string kBackendV11 = kTestPlugins + "/test_backend_v11.so";
const std::string kBackendNoGen = kTestPlugins + "/test_backend_no_gen.so";
const std::string kAbi10 = kTestPlugins + "/test_abi_1_0.so";
const std::string kMisbehaving = kTestPlugins + "/test_misbehaving.so";

// Copies a built plugin into `dir` under `name`; a copy is a separate library to dlopen.
std::string copy_plugin(const std::string& from, const TempDir& dir, const std::string& name) {
    std::string to = dir.path() + "/" + name;
    std::filesystem::copy_file(from, to);
    return to;
}

// The test plugin hands out the host API it was given through this factory id.
const ge_host_api_t* const* host_slot(const Plugin& plugin) {
    return static_cast<const ge_host_api_t* const*>(plugin.entry->get_factory("test.host/1"));
}

}  // namespace

// ---------------------------------------------------------------- PluginRegistry

TEST_CASE("the llama_server plugin loads with a backend factory", "[plugin]") {
    PluginRegistry registry;
    REQUIRE(registry.load_file(GE_LLAMA_SERVER_PLUGIN));
    CHECK(registry.refusals().empty());
    CHECK(registry.ids() == Strings{"llama_server"});
    const Plugin* p = registry.find("llama_server");
    REQUIRE(p != nullptr);
    CHECK(p->backend != nullptr);
    CHECK(p->version == "0.1.0");
    CHECK(p->path == GE_LLAMA_SERVER_PLUGIN);
    CHECK(p->abi_major == GE_ABI_MAJOR);
    CHECK(p->abi_minor == GE_ABI_MINOR);
    CHECK(p->backend->struct_size == sizeof(ge_backend_factory_t));
    CHECK(registry.find("llama") == nullptr);
}

TEST_CASE("a minimal plugin without a backend loads", "[plugin]") {
    PluginRegistry registry;
    REQUIRE(registry.load_file(kGood));
    const Plugin* p = registry.find("test_good");
    REQUIRE(p != nullptr);
    CHECK(p->version == "9.8.7");
    CHECK(p->path == kGood);
    CHECK(p->backend == nullptr);
    CHECK(registry.refusals().empty());
}

TEST_CASE("a newer minor ABI version loads", "[plugin]") {
    PluginRegistry registry;
    REQUIRE(registry.load_file(kMinor7));
    const Plugin* p = registry.find("test_minor7");
    REQUIRE(p != nullptr);
    CHECK(p->abi_major == GE_ABI_MAJOR);
    CHECK(p->abi_minor == 7);
}

TEST_CASE("a 1.1 backend plugin without generation_probe_request still loads and runs",
          "[plugin][backend]") {
    PluginRegistry registry;
    REQUIRE(registry.load_file(kBackendV11));
    CHECK(registry.refusals().empty());
    const Plugin* p = registry.find("test_backend_v11");
    REQUIRE(p != nullptr);
    REQUIRE(p->backend != nullptr);
    CHECK(p->abi_minor == 1);
    CHECK(p->backend->struct_size == offsetof(ge_backend_factory_t, generation_probe_request));

    gradatum::ModelSettings model;
    model.name = "old";
    model.backend = "test_backend_v11";
    BackendInstance instance(*p, model, "cfg.ini");
    CHECK_FALSE(instance.has_generation_probe());
    // The slot past struct_size holds a function that aborts: it is never read.
    CHECK_FALSE(instance.generation_probe_request().has_value());
    gradatum::ProbeRequest probe = instance.probe_request();
    CHECK(probe.method == "GET");
    CHECK(probe.path == "/ready");
    CHECK(probe.body.empty());  // a 1.1 plugin never writes the 1.2 fields: they stay empty
    CHECK(probe.content_type.empty());
    CHECK(probe.headers.empty());
    CHECK(instance.probe_verdict(200, "") == gradatum::ProbeVerdict::ready);
}

TEST_CASE("a backend plugin built against the frozen ABI 1.0 header loads and runs",
          "[plugin][backend][abi]") {
    PluginRegistry registry(
        {{"models.old.old.binary", "/bin/sh"}, {"models.old.old.model", "/m.gguf"}});
    REQUIRE(registry.load_file(kAbi10));
    CHECK(registry.refusals().empty());
    const Plugin* p = registry.find("test_abi_1_0");
    REQUIRE(p != nullptr);
    REQUIRE(p->backend != nullptr);
    CHECK(p->abi_major == 1);
    CHECK(p->abi_minor == 0);
    CHECK(p->version == "1.0.0");
    // A 1.0 factory ends at on_exit.
    CHECK(p->backend->struct_size == offsetof(ge_backend_factory_t, generation_probe_request));

    gradatum::ModelSettings model;
    model.name = "old";
    model.backend = "test_abi_1_0";
    BackendInstance instance(*p, model, "cfg.ini");
    CHECK_FALSE(instance.has_generation_probe());
    // The plugin refuses any host struct smaller than its own: these calls prove the host's are
    // at least as large, and that the fields it left alone read as empty.
    gradatum::SpawnSpec spec = instance.spawn_spec("127.0.0.1", 8123);
    CHECK(spec.program == "/bin/sh");
    CHECK(spec.argv ==
          Strings{"/bin/sh", "--model", "/m.gguf", "--host", "127.0.0.1", "--port", "8123"});
    CHECK(spec.env.empty());
    CHECK(spec.workdir.empty());
    gradatum::Target target = instance.target("127.0.0.1", 8123);
    CHECK(target.host == "127.0.0.1");
    CHECK(target.port == 8123);
    CHECK(target.headers.empty());
    gradatum::ProbeRequest probe = instance.probe_request();
    CHECK(probe.method == "GET");
    CHECK(probe.path == "/health");
    CHECK(probe.body.empty());  // the 1.2 fields, unknown to it, stay zero
    CHECK(probe.headers.empty());
    CHECK(instance.probe_verdict(200, "") == gradatum::ProbeVerdict::ready);
    CHECK(instance.probe_verdict(503, "") == gradatum::ProbeVerdict::loading);
    // exec_failed (1.1) is past the end of the plugin's ge_exit_info_t: it reads what it knows.
    gradatum::ExitInfo exit;
    exit.exit_code = 127;
    exit.exec_failed = true;
    gradatum::ExitDecision decision = instance.on_exit(exit);
    CHECK_FALSE(decision.restart);
    CHECK(decision.reason == "1.0 plugin: exit code 127, signal 0, never ready");
}

TEST_CASE("a 1.2 backend plugin may leave generation_probe_request NULL", "[plugin][backend]") {
    PluginRegistry registry;
    REQUIRE(registry.load_file(kBackendNoGen));
    const Plugin* p = registry.find("test_backend_no_gen");
    REQUIRE(p != nullptr);
    REQUIRE(p->backend != nullptr);
    CHECK(p->abi_minor == GE_ABI_MINOR);
    CHECK(p->backend->struct_size == sizeof(ge_backend_factory_t));
    gradatum::ModelSettings model;
    model.name = "m";
    model.backend = "test_backend_no_gen";
    BackendInstance instance(*p, model, "cfg.ini");
    CHECK_FALSE(instance.has_generation_probe());
    CHECK_FALSE(instance.generation_probe_request().has_value());
}

TEST_CASE("liveness.generate needs a plugin with a generation probe", "[plugin][backend]") {
    PluginRegistry registry;
    REQUIRE(registry.load_file(kBackendV11));
    REQUIRE(registry.load_file(kBackendNoGen));
    auto refusal = [&](const std::string& id) {
        gradatum::ModelSettings model;
        model.name = "m";
        model.backend = id;
        model.liveness.generate = true;
        try {
            BackendInstance instance(*registry.find(id), model, "cfg.ini");
        } catch (const ConfigError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(refusal("test_backend_v11") ==
          "cfg.ini: models.m.liveness.generate: plugin test_backend_v11 9.8.7 (ABI 1.1) offers no "
          "generation probe (generation_probe_request, ABI 1.2); set it to false or use a plugin "
          "that has one");
    CHECK(refusal("test_backend_no_gen") ==
          "cfg.ini: models.m.liveness.generate: plugin test_backend_no_gen 9.8.7 (ABI " +
              kEngineAbi +
              ") offers no generation probe (generation_probe_request, ABI 1.2); set it to false "
              "or use a plugin that has one");
}

namespace {

// Catches what spdlog's default logger writes while it lives.
class LogCapture {
  public:
    LogCapture()
        : previous_(spdlog::default_logger()),
          sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)) {
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
    }
    ~LogCapture() { spdlog::set_default_logger(previous_); }
    // Call when no other thread logs any more: the watch logs under its lock, which the
    // returning call took after it.
    std::string text() const { return text_.str(); }

  private:
    std::shared_ptr<spdlog::logger> previous_;
    std::ostringstream text_;
    std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

}  // namespace

TEST_CASE("a plugin call slower than the limit is logged, while it blocks and when it returns",
          "[plugin][backend][isolation]") {
    PluginRegistry registry;
    REQUIRE(registry.load_file(kMisbehaving));
    gradatum::ModelSettings model;
    model.name = "slow";
    model.backend = "test_misbehaving";
    model.backend_config = {{"misbehave.sleep_in", "probe_request"},
                            {"misbehave.sleep_ms", "1300"}};
    BackendInstance instance(*registry.find("test_misbehaving"), model, "cfg.ini");
    LogCapture log;
    instance.target("127.0.0.1", 1);  // fast: nothing logged
    instance.probe_request();
    const std::string call = "plugin test_misbehaving 9.8.7: probe_request for model slow";
    std::string text = log.text();
    CHECK_THAT(text, Catch::Contains(call + " has not returned after 1") &&
                         Catch::Contains(" ms (limit 1000 ms)"));
    CHECK_THAT(text, Catch::Contains(call + " took 1"));
    CHECK_THAT(text, !Catch::Contains("target"));
    // The one that blocked is reported first, by the watch.
    CHECK(text.find("has not returned") < text.find(" took "));
}

TEST_CASE("the host API a plugin gets", "[plugin]") {
    const ge_host_api_t* const* slot = nullptr;
    {
        PluginRegistry registry({{"server.listen", "127.0.0.1:8080"}, {"models.q.x", "${HOME}"}});
        REQUIRE(registry.load_file(kGood));
        slot = host_slot(*registry.find("test_good"));
        REQUIRE(slot != nullptr);
        const ge_host_api_t* host = *slot;
        REQUIRE(host != nullptr);  // init ran
        CHECK(host->struct_size == sizeof(ge_host_api_t));
        CHECK(host->abi_major == GE_ABI_MAJOR);
        CHECK(host->abi_minor == GE_ABI_MINOR);
        void* ctx = host->host_ctx;

        char buffer[64];
        CHECK(host->config_get(ctx, "server.listen", buffer, sizeof buffer) == 14);
        CHECK(std::string(buffer) == "127.0.0.1:8080");
        CHECK(host->config_get(ctx, "models.q.x", buffer, sizeof buffer) == 7);
        CHECK(std::string(buffer) == "${HOME}");  // raw, unexpanded
        // Truncated: the length says how much room the whole value needs.
        CHECK(host->config_get(ctx, "server.listen", buffer, 5) == 14);
        CHECK(std::string(buffer) == "127.");
        CHECK(host->config_get(ctx, "server.listen", nullptr, 0) == 14);
        CHECK(host->config_get(ctx, "server.port", buffer, sizeof buffer) == -1);
        CHECK(host->config_get(ctx, nullptr, buffer, sizeof buffer) == -1);

        auto sh = gradatum::find_program("sh");
        REQUIRE(sh);
        char path[4096];
        CHECK(host->find_program(ctx, "sh", path, sizeof path) == static_cast<int64_t>(sh->size()));
        CHECK(std::string(path) == *sh);
        CHECK(host->find_program(ctx, "no-such-program-ge-unit", path, sizeof path) == -1);
        CHECK(host->find_program(ctx, nullptr, path, sizeof path) == -1);

        CHECK(host->get_extension(ctx, "anything/1") == nullptr);
        for (int32_t level : {int32_t{GE_LOG_DEBUG}, int32_t{GE_LOG_INFO}, int32_t{GE_LOG_WARN},
                              int32_t{GE_LOG_ERROR}, int32_t{99}})
            host->log(ctx, level, "log line from a unit test");
        host->log(ctx, GE_LOG_INFO, nullptr);
    }
    // The registry is gone: it called deinit, which cleared the plugin's pointer. The library
    // itself stays loaded, so the slot is still readable.
    CHECK(*slot == nullptr);
}

TEST_CASE("plugin refusals name the file and the reason", "[plugin]") {
    PluginRegistry registry;
    std::string path;
    std::string reason;
    SECTION("a different ABI major") {
        path = kAbi99;
        reason = "plugin ABI 99.3, engine ABI " + kEngineAbi +
                 " (major versions must match; rebuild the plugin "
                 "against this engine)";
        CHECK_FALSE(registry.load_file(path));
        CHECK(registry.find("test_abi99") == nullptr);
    }
    SECTION("no entry symbol") {
        path = kNoEntry;
        reason = "no 'ge_plugin_entry' symbol: not a gradatum-engine plugin";
        CHECK_FALSE(registry.load_file(path));
    }
    SECTION("init fails") {
        path = kInitFails;
        reason = "init failed: test plugin refuses to start";
        CHECK_FALSE(registry.load_file(path));
        CHECK(registry.find("test_init_fails") == nullptr);
    }
    SECTION("a backend factory from before on_exit existed") {
        path = kSmallFactory;
        reason = "backend factory too small for ABI " + kEngineAbi;
        CHECK_FALSE(registry.load_file(path));
        CHECK(registry.find("test_small_factory") == nullptr);
    }
    SECTION("the same plugin id twice") {
        TempDir dir;
        REQUIRE(registry.load_file(kGood));
        path = copy_plugin(kGood, dir, "again.so");
        reason = "plugin id 'test_good' is already loaded from " + kGood;
        CHECK_FALSE(registry.load_file(path));
        CHECK(registry.find("test_good")->path == kGood);  // the first one stays
    }
    REQUIRE(registry.refusals().size() == 1);
    CHECK(registry.refusals()[0].path == path);
    CHECK(registry.refusals()[0].reason == reason);
}

TEST_CASE("a file that is not a shared library is refused", "[plugin]") {
    TempDir dir;
    std::string bogus = dir.write("bogus.so", "this is text, not ELF\n");
    PluginRegistry registry;
    CHECK_FALSE(registry.load_file(bogus));
    REQUIRE(registry.refusals().size() == 1);
    CHECK(registry.refusals()[0].path == bogus);
    CHECK_THAT(registry.refusals()[0].reason, Catch::StartsWith("not a loadable shared library: "));
    CHECK(registry.ids().empty());
}

TEST_CASE("a plugin with an unresolvable symbol is refused, not run", "[plugin]") {
    // Bound lazily, it would load, and the dynamic linker would kill the whole engine when init
    // calls the missing function.
    PluginRegistry registry;
    CHECK_FALSE(registry.load_file(kUndefined));
    REQUIRE(registry.refusals().size() == 1);
    CHECK(registry.refusals()[0].path == kUndefined);
    CHECK_THAT(registry.refusals()[0].reason,
               Catch::StartsWith("not a loadable shared library: ") &&
                   Catch::Contains("undefined symbol: ge_test_missing_function"));
    CHECK(registry.find("test_undefined") == nullptr);
}

TEST_CASE("load_directory loads the good plugins and lists the refused ones", "[plugin]") {
    TempDir dir;
    const std::string abi99 = copy_plugin(kAbi99, dir, "a_abi99.so");
    const std::string bogus = dir.write("b_bogus.so", "not a library");
    copy_plugin(kGood, dir, "c_good.so");
    const std::string no_entry = copy_plugin(kNoEntry, dir, "d_no_entry.so");
    dir.write("readme.txt", "not a plugin, not even looked at");
    std::filesystem::create_directory(dir.path() + "/e_dir.so");  // a directory, skipped

    PluginRegistry registry;
    registry.load_directory(dir.path());
    CHECK(registry.ids() == Strings{"test_good"});
    CHECK(registry.find("test_good")->path == dir.path() + "/c_good.so");
    const auto& refusals = registry.refusals();
    REQUIRE(refusals.size() == 3);  // sorted by file name
    CHECK(refusals[0].path == abi99);
    CHECK_THAT(refusals[0].reason, Catch::Contains("99.") && Catch::Contains(kEngineAbi));
    CHECK(refusals[1].path == bogus);
    CHECK_THAT(refusals[1].reason, Catch::StartsWith("not a loadable shared library"));
    CHECK(refusals[2].path == no_entry);
    CHECK_THAT(refusals[2].reason, Catch::Contains("ge_plugin_entry"));
}

TEST_CASE("a missing plugin directory loads nothing and refuses nothing", "[plugin]") {
    TempDir dir;
    PluginRegistry registry;
    registry.load_directory(dir.path() + "/absent");
    CHECK(registry.ids().empty());
    CHECK(registry.refusals().empty());
}

// ---------------------------------------------------------------- Engine: model needs its plugin

namespace {

gradatum::EngineConfig config_with(const TempDir& dir, const std::string& body) {
    return gradatum::load_config(dir.write("engine.properties", body));
}

std::string engine_error(gradatum::EngineConfig config, const std::string& plugin_dir) {
    try {
        gradatum::Engine engine(std::move(config), plugin_dir);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("the engine refuses a model whose backend plugin is not loaded", "[plugin][engine]") {
    TempDir dir;
    const std::string file = dir.path() + "/engine.properties";

    SECTION("unknown plugin id, with the loaded ones listed") {
        auto config = config_with(dir, "models.qwen.backend = llama_srv\n");
        CHECK(engine_error(config, GE_LLAMA_SERVER_PLUGIN_DIR) ==
              file +
                  ": models.qwen.backend: model 'qwen' needs backend plugin 'llama_srv', which "
                  "is not loaded from " GE_LLAMA_SERVER_PLUGIN_DIR
                  " (loaded: command, llama_server, remote)");
    }
    SECTION("empty plugin directory") {
        TempDir plugins;
        auto config = config_with(dir, "models.qwen.backend = llama_server\n");
        CHECK(engine_error(config, plugins.path()) ==
              file +
                  ": models.qwen.backend: model 'qwen' needs backend plugin 'llama_server', "
                  "which is not loaded from " +
                  plugins.path() + " (loaded: none)");
    }
    SECTION("liveness.generate with a backend that has no generation probe") {
        TempDir plugins;
        copy_plugin(kBackendV11, plugins, "test_backend_v11.so");
        auto config = config_with(dir,
                                  "models.old.backend = test_backend_v11\n"
                                  "models.old.liveness.generate = true\n");
        CHECK(engine_error(config, plugins.path()) ==
              file +
                  ": models.old.liveness.generate: plugin test_backend_v11 9.8.7 (ABI 1.1) offers "
                  "no generation probe (generation_probe_request, ABI 1.2); set it to false or "
                  "use a plugin that has one");
    }
    SECTION("a plugin that offers no backend") {
        TempDir plugins;
        copy_plugin(kGood, plugins, "test_good.so");
        auto config = config_with(dir, "models.tiny.backend = test_good\n");
        CHECK(engine_error(config, plugins.path()) ==
              file +
                  ": models.tiny.backend: model 'tiny' needs backend plugin 'test_good', "
                  "which is not loaded from " +
                  plugins.path() + " (loaded: test_good)");
    }
}

TEST_CASE("a valid config builds an engine without starting anything", "[plugin][engine]") {
    TempDir dir;
    std::string model = dir.write("m.gguf", "GGUF");
    auto config = config_with(dir,
                              "models.qwen.backend = llama_server\n"
                              "models.qwen.llama_server.binary = /bin/sh\n"
                              "models.qwen.llama_server.model = " +
                                  model + "\n");
    gradatum::Engine engine(config, GE_LLAMA_SERVER_PLUGIN_DIR);
    CHECK(engine.port() == 0);  // nothing listens before start()
    CHECK(engine.config().models.size() == 1);
}

// ---------------------------------------------------------------- BackendInstance (llama_server)

namespace {

struct LlamaServer {
    PluginRegistry registry;
    const Plugin* plugin = nullptr;
    LlamaServer() {
        REQUIRE(registry.load_file(GE_LLAMA_SERVER_PLUGIN));
        plugin = registry.find("llama_server");
        REQUIRE(plugin != nullptr);
    }

    gradatum::ModelSettings model(std::map<std::string, std::string> backend_config) const {
        gradatum::ModelSettings m;
        m.name = "x";
        m.backend = "llama_server";
        m.backend_config = std::move(backend_config);
        return m;
    }

    // The ConfigError text BackendInstance throws for `backend_config`.
    std::string error(std::map<std::string, std::string> backend_config) const {
        try {
            BackendInstance instance(*plugin, model(std::move(backend_config)), "cfg.ini");
        } catch (const ConfigError& e) {
            return e.what();
        }
        return "no error";
    }
};

}  // namespace

TEST_CASE("llama_server config errors name models.<name>.<key>", "[plugin][backend]") {
    LlamaServer ls;
    TempDir dir;
    const std::string missing = dir.path() + "/missing.gguf";
    const std::string model = dir.write("m.gguf", "GGUF");

    CHECK(ls.error({{"llama_server.model", missing}}) ==
          "cfg.ini: models.x.llama_server.model: file not found: " + missing);
    CHECK(ls.error({{"llama_server.modle", model}}) ==
          "cfg.ini: models.x.llama_server.modle: unknown key (known: binary, model, ctx_size, "
          "threads, n_gpu_layers, parallel, mmproj, embeddings, alias, api_key, args)");
    CHECK(ls.error({{"llama_server.model", model},
                    {"llama_server.binary", dir.path() + "/llama-server"}}) ==
          "cfg.ini: models.x.llama_server.binary: not an executable file: " + dir.path() +
              "/llama-server");
    CHECK(ls.error({{"llama_server.model", model},
                    {"llama_server.binary", "no-such-llama-server-ge-unit"}}) ==
          "cfg.ini: models.x.llama_server.binary: 'no-such-llama-server-ge-unit' not found on "
          "PATH (set it to the full path of llama-server)");
    // A non-executable file is not a binary either.
    CHECK(ls.error({{"llama_server.model", model}, {"llama_server.binary", model}}) ==
          "cfg.ini: models.x.llama_server.binary: not an executable file: " + model);
}

TEST_CASE("an alias in llama_server.args is not doubled by the default one", "[plugin][backend]") {
    LlamaServer ls;
    TempDir dir;
    const std::string model = dir.write("m.gguf", "GGUF");
    for (const std::string& args : {"--alias mine", "-a mine", "--alias=mine"}) {
        CAPTURE(args);
        BackendInstance instance(*ls.plugin,
                                 ls.model({{"llama_server.model", model},
                                           {"llama_server.binary", "sh"},
                                           {"llama_server.args", args}}),
                                 "cfg.ini");
        auto argv = instance.spawn_spec("127.0.0.1", 8123).argv;
        CHECK(std::count(argv.begin(), argv.end(), std::string("x")) == 0);
    }
}

TEST_CASE("llama_server instance through the C ABI", "[plugin][backend]") {
    LlamaServer ls;
    TempDir dir;
    const std::string model = dir.write("my model.gguf", "GGUF");
    auto sh = gradatum::find_program("sh");
    REQUIRE(sh);
    BackendInstance instance(*ls.plugin,
                             ls.model({{"llama_server.model", model},
                                       {"llama_server.binary", "sh"},
                                       {"llama_server.api_key", "k3y"},
                                       {"llama_server.args", "--jinja"},
                                       {"restart.jitter", "0"}}),
                             "cfg.ini");
    CHECK(instance.plugin_id() == "llama_server");

    gradatum::SpawnSpec spec = instance.spawn_spec("127.0.0.1", 8123);
    CHECK(spec.program == *sh);  // resolved through the host's find_program
    // The model's configured name is its alias (not the file path llama-server would show).
    CHECK(spec.argv == Strings{*sh, "--model", model, "--host", "127.0.0.1", "--port", "8123",
                               "--alias", "x", "--jinja"});
    CHECK(spec.env == Strings{"LLAMA_API_KEY=k3y"});
    CHECK(spec.workdir.empty());

    gradatum::Target target = instance.target("127.0.0.1", 8123);
    CHECK(target.host == "127.0.0.1");
    CHECK(target.port == 8123);
    using Headers = std::vector<std::pair<std::string, std::string>>;
    CHECK(target.headers == Headers{{"Authorization", "Bearer k3y"}});

    gradatum::ProbeRequest probe = instance.probe_request();
    CHECK(probe.method == "GET");
    CHECK(probe.path == "/health");
    CHECK(probe.body.empty());
    CHECK(probe.headers.empty());  // /health needs no key

    // liveness.generate: one token from llama-server's own /completion, with this spawn's key.
    REQUIRE(instance.has_generation_probe());
    auto generation = instance.generation_probe_request();
    REQUIRE(generation.has_value());
    CHECK(generation->method == "POST");
    CHECK(generation->path == "/completion");
    CHECK(generation->content_type == "application/json");
    CHECK(generation->headers == Headers{{"Authorization", "Bearer k3y"}});
    auto body = nlohmann::json::parse(generation->body);
    CHECK(body["n_predict"] == 1);
    CHECK(body["cache_prompt"] == false);
    CHECK_FALSE(body["prompt"].get<std::string>().empty());  // empty: answered without decoding
    CHECK_FALSE(body.contains("stream"));
    CHECK(instance.probe_verdict(200, R"({"content":" the","tokens_predicted":1})") ==
          gradatum::ProbeVerdict::ready);
    CHECK(instance.probe_verdict(401, "Invalid API Key") == gradatum::ProbeVerdict::failed);
    CHECK(instance.probe_verdict(500, "") == gradatum::ProbeVerdict::loading);
    CHECK(instance.probe_verdict(200, "{\"status\":\"ok\"}") == gradatum::ProbeVerdict::ready);
    CHECK(instance.probe_verdict(503, "Loading model") == gradatum::ProbeVerdict::loading);
    CHECK(instance.probe_verdict(0, "") == gradatum::ProbeVerdict::loading);
    CHECK(instance.probe_verdict(404, "") == gradatum::ProbeVerdict::failed);

    gradatum::ExitInfo exit;
    exit.signal = 9;
    exit.was_ready = true;
    exit.ready_ms = 10;
    exit.now_ms = 1000;
    gradatum::ExitDecision decision = instance.on_exit(exit);
    CHECK(decision.restart);
    CHECK(decision.delay_ms == 500);
    CHECK(decision.reason == "killed by signal 9");
}
