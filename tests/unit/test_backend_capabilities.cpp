// ABI 1.3 capabilities as the host reads them: a factory from before 1.3 (or one that leaves
// capabilities NULL) has a process per load; GE_BACKEND_NO_PROCESS makes a remote target that
// takes no slot and refuses a ttl; a flag the host does not know refuses the model.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "config/config.hpp"
#include "plugin/backend_instance.hpp"
#include "plugin/plugin_registry.hpp"
#include "supervisor/model_supervisor.hpp"

using gradatum::BackendInstance;
using gradatum::ConfigError;
using gradatum::Plugin;
using gradatum::PluginRegistry;

namespace {

const std::string kTestPlugins = GE_TEST_PLUGIN_DIR;

const Plugin& load(PluginRegistry& registry, const std::string& id) {
    REQUIRE(registry.load_file(kTestPlugins + "/" + id + ".so"));
    const Plugin* p = registry.find(id);
    REQUIRE(p != nullptr);
    REQUIRE(p->backend != nullptr);
    return *p;
}

gradatum::ModelSettings model_for(const std::string& backend) {
    gradatum::ModelSettings model;
    model.name = "m";
    model.backend = backend;
    return model;
}

std::string refusal(const Plugin& plugin, const gradatum::ModelSettings& model) {
    try {
        BackendInstance instance(plugin, model, "cfg.ini");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("a 1.2 backend plugin (no capabilities member) has a process", "[plugin][backend]") {
    PluginRegistry registry;
    const Plugin& p = load(registry, "test_backend_v12");
    CHECK(p.abi_minor == 2);
    CHECK(p.backend->struct_size == offsetof(ge_backend_factory_t, capabilities));
    // The slot past struct_size holds a function that aborts: it is never read.
    BackendInstance instance(p, model_for("test_backend_v12"), "cfg.ini");
    CHECK(instance.has_process());
    auto model = model_for("test_backend_v12");
    model.ttl = std::chrono::seconds(60);  // a ttl is fine for a model with a process
    BackendInstance with_ttl(p, model, "cfg.ini");
    CHECK(with_ttl.has_process());
}

TEST_CASE("a 1.1 backend plugin has a process", "[plugin][backend]") {
    PluginRegistry registry;
    const Plugin& p = load(registry, "test_backend_v11");
    BackendInstance instance(p, model_for("test_backend_v11"), "cfg.ini");
    CHECK(instance.has_process());
}

TEST_CASE("a 1.3 backend plugin may leave capabilities NULL: a process", "[plugin][backend]") {
    PluginRegistry registry;
    const Plugin& p = load(registry, "test_backend_no_gen");
    REQUIRE(p.backend->struct_size == sizeof(ge_backend_factory_t));
    REQUIRE(p.backend->capabilities == nullptr);
    BackendInstance instance(p, model_for("test_backend_no_gen"), "cfg.ini");
    CHECK(instance.has_process());
}

TEST_CASE("GE_BACKEND_NO_PROCESS: no process, no slot, no ttl", "[plugin][backend]") {
    PluginRegistry registry;
    const Plugin& p = load(registry, "test_backend_remote");
    auto instance =
        std::make_unique<BackendInstance>(p, model_for("test_backend_remote"), "cfg.ini");
    CHECK_FALSE(instance->has_process());

    // Loaded or not, it never counts against max_running or an exclusive group.
    gradatum::ModelSupervisor supervisor(model_for("test_backend_remote"), std::move(instance));
    CHECK_FALSE(supervisor.has_process());
    CHECK_FALSE(supervisor.occupies_slot());
    supervisor.load();
    CHECK_FALSE(supervisor.occupies_slot());

    auto model = model_for("test_backend_remote");
    model.ttl = std::chrono::seconds(60);
    CHECK(refusal(p, model) ==
          "cfg.ini: models.m.ttl: backend test_backend_remote has no process to stop when idle "
          "(a remote target); remove the key");
}

TEST_CASE("a capability flag the host does not know refuses the model", "[plugin][backend]") {
    PluginRegistry registry;
    const Plugin& p = load(registry, "test_backend_future");
    CHECK(refusal(p, model_for("test_backend_future")) ==
          "cfg.ini: models.m.backend: plugin test_backend_future 9.8.7 (ABI 1.9) declares "
          "capability flags 0x80 that this engine (ABI " +
              std::to_string(GE_ABI_MAJOR) + "." + std::to_string(GE_ABI_MINOR) +
              ") does not know; upgrade the engine or the plugin");
}

// ABI 1.4: keep_cache needs handover_step; a factory that ends before it has none, whatever lies
// past its struct_size.
TEST_CASE("keep_cache is refused for a backend plugin without handover_step", "[plugin][backend]") {
    PluginRegistry registry;
    for (const std::string id : {"test_backend_v12", "test_backend_no_gen"}) {
        const Plugin& p = load(registry, id);
        CHECK_FALSE(BackendInstance(p, model_for(id), "cfg.ini").has_handover());
        auto model = model_for(id);
        model.keep_cache = true;
        CHECK_THAT(refusal(p, model),
                   Catch::Contains("cfg.ini: models.m.keep_cache: plugin " + id) &&
                       Catch::Contains("cannot save and restore its child's state "
                                       "(handover_step, ABI 1.4)"));
    }
    const Plugin& remote = load(registry, "test_backend_remote");
    auto model = model_for("test_backend_remote");
    model.keep_cache = true;
    CHECK_THAT(refusal(remote, model),
               Catch::Contains("models.m.keep_cache: backend test_backend_remote has no process"));
}
