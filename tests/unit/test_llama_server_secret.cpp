// The llama_server plugin's secret per child, through its C entry as the engine loads it: every
// spawn without a configured api_key gets a fresh random key in LLAMA_API_KEY (never in argv),
// and target() and the generation probe send that spawn's key.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "plugin/backend_instance.hpp"
#include "plugin/plugin_registry.hpp"
#include "temp_dir.hpp"

using ge_test::TempDir;
using gradatum::BackendError;
using gradatum::BackendInstance;
using gradatum::PluginRegistry;
using Headers = std::vector<std::pair<std::string, std::string>>;

namespace {

const std::string kEnvName = "LLAMA_API_KEY=";

// The real plugin and one instance of it for a model file that exists.
struct LlamaPlugin {
    TempDir dir;
    std::string model = dir.write("m.gguf", "GGUF");
    PluginRegistry registry;
    std::unique_ptr<BackendInstance> instance;

    LlamaPlugin() : LlamaPlugin(std::map<std::string, std::string>{}) {}
    explicit LlamaPlugin(std::map<std::string, std::string> extra) {
        REQUIRE(registry.load_file(GE_LLAMA_SERVER_PLUGIN));
        const gradatum::Plugin* plugin = registry.find("llama_server");
        REQUIRE(plugin != nullptr);
        gradatum::ModelSettings m;
        m.name = "x";
        m.backend = "llama_server";
        m.backend_config = std::move(extra);
        m.backend_config["llama_server.model"] = model;
        m.backend_config["llama_server.binary"] = "/bin/sh";
        instance = std::make_unique<BackendInstance>(*plugin, m, "cfg.properties");
    }
};

// The LLAMA_API_KEY entries of a spawn's environment, values only.
std::vector<std::string> env_keys(const gradatum::SpawnSpec& spec) {
    std::vector<std::string> keys;
    for (const auto& entry : spec.env) {
        if (entry.rfind(kEnvName, 0) == 0) keys.push_back(entry.substr(kEnvName.size()));
    }
    return keys;
}

bool is_hex(const std::string& s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

TEST_CASE("without api_key every spawn gets a fresh key, by environment only", "[plugin][secret]") {
    LlamaPlugin p;
    std::vector<std::string> seen;
    for (uint16_t port : {8123, 8124, 8123}) {
        gradatum::SpawnSpec spec = p.instance->spawn_spec("127.0.0.1", port);
        auto keys = env_keys(spec);
        REQUIRE(keys.size() == 1);
        const std::string& key = keys[0];
        CHECK(key.size() == 64);  // 256 bits in hex
        CHECK(is_hex(key));
        for (const auto& arg : spec.argv) {
            CHECK(arg.find(key) == std::string::npos);
            CHECK(arg != "--api-key");
        }
        CHECK(spec.program.find(key) == std::string::npos);

        gradatum::Target target = p.instance->target("127.0.0.1", port);
        CHECK(target.port == port);
        CHECK(target.headers == Headers{{"Authorization", "Bearer " + key}});
        seen.push_back(key);
    }
    CHECK(seen[0] != seen[1]);
    CHECK(seen[1] != seen[2]);
    CHECK(seen[0] != seen[2]);
}

TEST_CASE("target sends the key of the latest spawn", "[plugin][secret]") {
    LlamaPlugin p;
    auto first = env_keys(p.instance->spawn_spec("127.0.0.1", 9000));
    auto second = env_keys(p.instance->spawn_spec("127.0.0.1", 9001));
    REQUIRE(first.size() == 1);
    REQUIRE(second.size() == 1);
    REQUIRE(first != second);
    CHECK(p.instance->target("127.0.0.1", 9001).headers ==
          Headers{{"Authorization", "Bearer " + second[0]}});
    // Asking again changes nothing: only a spawn makes a new key.
    CHECK(p.instance->target("127.0.0.1", 9001).headers ==
          Headers{{"Authorization", "Bearer " + second[0]}});
}

TEST_CASE("a configured api_key is used for every spawn", "[plugin][secret]") {
    LlamaPlugin p(std::map<std::string, std::string>{{"llama_server.api_key", "my-own-key"}});
    for (int i = 0; i < 2; ++i) {
        gradatum::SpawnSpec spec = p.instance->spawn_spec("127.0.0.1", 9000);
        CHECK(env_keys(spec) == std::vector<std::string>{"my-own-key"});
        for (const auto& arg : spec.argv) CHECK(arg.find("my-own-key") == std::string::npos);
        CHECK(p.instance->target("127.0.0.1", 9000).headers ==
              Headers{{"Authorization", "Bearer my-own-key"}});
    }
}

TEST_CASE("target before any spawn_spec is refused, never a header without a key",
          "[plugin][secret]") {
    LlamaPlugin p;
    CHECK_THROWS_MATCHES(p.instance->target("127.0.0.1", 9000), BackendError,
                         Catch::Message("plugin llama_server gave no target for model x: target "
                                        "asked for before any spawn_spec: no key to send yet"));
}

TEST_CASE("the generation probe sends the key of the latest spawn", "[plugin][secret]") {
    LlamaPlugin p;
    CHECK_THROWS_MATCHES(p.instance->generation_probe_request(), BackendError,
                         Catch::Message("plugin llama_server gave no generation probe for model "
                                        "x: generation probe asked for before any spawn_spec: no "
                                        "key yet"));
    auto first = env_keys(p.instance->spawn_spec("127.0.0.1", 9000));
    REQUIRE(first.size() == 1);
    CHECK(p.instance->generation_probe_request()->headers ==
          Headers{{"Authorization", "Bearer " + first[0]}});
    auto second = env_keys(p.instance->spawn_spec("127.0.0.1", 9001));
    REQUIRE(second.size() == 1);
    REQUIRE(first != second);
    CHECK(p.instance->generation_probe_request()->headers ==
          Headers{{"Authorization", "Bearer " + second[0]}});
}
