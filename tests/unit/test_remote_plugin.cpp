// The remote plugin: remote.url and the other keys, the retry policy that never gives up, and
// the plugin through the C ABI (on this host, and on a host that offers ABI 1.2).
#include <dlfcn.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "plugin/backend_instance.hpp"
#include "plugin/plugin_registry.hpp"
#include "retry_policy.hpp"
#include "settings.hpp"

using gradatum::BackendInstance;
using gradatum::ConfigError;
using Headers = std::vector<std::pair<std::string, std::string>>;

namespace {

// The message of the SettingsError that parsing `values` throws, as "key: message".
std::string settings_error(const std::map<std::string, std::string>& values) {
    try {
        remote::parse_settings(values);
    } catch (const remote::SettingsError& e) {
        return e.key + ": " + e.what();
    }
    return "no error";
}

std::string url_error(const std::string& url) {
    return settings_error({{"remote.url", url}});
}

remote::Endpoint endpoint(const std::string& url) {
    return remote::parse_url("remote.url", url);
}

gradatum::ModelSettings remote_model(std::map<std::string, std::string> config) {
    gradatum::ModelSettings model;
    model.name = "m";
    model.backend = "remote";
    model.backend_config = std::move(config);
    return model;
}

std::string config_error(const gradatum::Plugin& plugin, const gradatum::ModelSettings& model) {
    try {
        BackendInstance instance(plugin, model, "cfg.ini");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("remote.url: http://host[:port][/] only", "[remote]") {
    CHECK(endpoint("http://127.0.0.1:9000").host == "127.0.0.1");
    CHECK(endpoint("http://127.0.0.1:9000").port == 9000);
    CHECK(endpoint(" HTTP://models.internal:8081/ ").host == "models.internal");
    CHECK(endpoint("http://models.internal").port == 80);
    CHECK(endpoint("http://[::1]:9000").host == "::1");
    CHECK(endpoint("http://[::1]:9000").port == 9000);
    CHECK(endpoint("http://[fd00::2]").port == 80);

    CHECK(url_error("https://127.0.0.1:9000") ==
          "remote.url: https is not supported yet (http only): write http://host:port, or put a "
          "TLS-terminating proxy on this host in front");
    CHECK(url_error("http://127.0.0.1:9000/v1") ==
          "remote.url: a path, query or fragment ('/v1') is not supported: the engine forwards "
          "each request's own path; write http://host:port");
    CHECK(url_error("http://h:1/?a=b").find("('/?a=b') is not supported") != std::string::npos);
    CHECK(url_error("ftp://h:1") ==
          "remote.url: expected an http:// URL, got 'ftp://h:1'; write http://host:port");
    CHECK(url_error("127.0.0.1:9000").find("expected an http:// URL") != std::string::npos);
    const std::string credentials = url_error("http://user:hunter2@h:9000");
    CHECK(credentials ==
          "remote.url: credentials in the URL are not supported; set remote.api_key (sent as "
          "Authorization: Bearer)");
    CHECK(credentials.find("hunter2") == std::string::npos);
    CHECK(url_error("http://h:0") == "remote.url: port '0' is not a number from 1 to 65535");
    CHECK(url_error("http://h:65536").find("port '65536'") != std::string::npos);
    CHECK(url_error("http://h:+80").find("port '+80'") != std::string::npos);
    CHECK(url_error("http://h:").find("port ''") != std::string::npos);
    CHECK(url_error("http://:9000").find("no valid host") != std::string::npos);
    CHECK(url_error("http://::1:9000").find("in brackets") != std::string::npos);
    CHECK(url_error("http://[::1").find("unclosed '['") != std::string::npos);
    CHECK(url_error("http://[nothost]:1").find("is not an IPv6 address") != std::string::npos);
}

TEST_CASE("remote settings: defaults, keys, secrets", "[remote]") {
    auto s = remote::parse_settings({{"remote.url", "http://127.0.0.1:9000"}});
    CHECK(s.health_path == "/health");
    CHECK_FALSE(s.api_key.has_value());
    CHECK(s.retry_interval == std::chrono::seconds(1));
    CHECK(s.retry_max == std::chrono::seconds(30));

    s = remote::parse_settings({{"remote.url", "http://127.0.0.1:9000"},
                                {"remote.health_path", "/v1/models"},
                                {"remote.api_key", " sk-remote "},
                                {"remote.retry_interval", "0.2"},
                                {"remote.retry_max", "2"}});
    CHECK(s.health_path == "/v1/models");
    CHECK(s.api_key == "sk-remote");
    CHECK(s.retry_interval == std::chrono::milliseconds(200));
    CHECK(s.retry_max == std::chrono::seconds(2));

    CHECK(settings_error({}) ==
          "remote.url: missing (the server to forward to: write http://host:port)");
    CHECK(settings_error({{"remote.url", "http://h:1"}, {"remote.nope", "1"}}) ==
          "remote.nope: unknown key (known: remote.url, health_path, api_key, retry_interval, "
          "retry_max)");
    CHECK(settings_error({{"remote.url", "http://h:1"}, {"llama_server.model", "x"}}) ==
          "llama_server.model: unknown key (the remote backend reads remote.*)");
    CHECK(settings_error({{"remote.url", "http://h:1"}, {"remote.health_path", "health"}}) ==
          "remote.health_path: expected a path starting with '/', got 'health'");
    CHECK(settings_error({{"remote.url", "http://h:1"}, {"remote.retry_interval", "0"}})
              .rfind("remote.retry_interval: ", 0) == 0);
    CHECK(settings_error({{"remote.url", "http://h:1"}, {"remote.retry_max", "0.5"}}) ==
          "remote.retry_max: shorter than remote.retry_interval (the first delay)");
    // A key with a space is refused without repeating it.
    const std::string bad_key =
        settings_error({{"remote.url", "http://h:1"}, {"remote.api_key", "sk secret"}});
    CHECK(bad_key == "remote.api_key: may not contain spaces or control characters");
    CHECK(settings_error({{"remote.url", "http://h:1"}, {"remote.api_key", "  "}}) ==
          "remote.api_key: empty (leave it unset to send no key)");
}

TEST_CASE("the remote retry policy doubles to its cap, never gives up, starts over when ready",
          "[remote]") {
    remote::RetryPolicy policy(std::chrono::milliseconds(100), std::chrono::milliseconds(350));
    auto first = policy.on_down(false, "no answer from http://h:1/health: Connection refused");
    CHECK(first.delay_ms == 100);
    CHECK(first.reason ==
          "remote unreachable: no answer from http://h:1/health: Connection refused");
    CHECK(policy.on_down(false, "x").delay_ms == 200);
    CHECK(policy.on_down(false, "x").delay_ms == 350);
    for (int i = 0; i < 100; ++i) policy.on_down(false, "x");  // no overflow, no giving up
    CHECK(policy.on_down(false, "x").delay_ms == 350);
    CHECK(policy.on_down(true, "liveness probe failed 3 times in a row").delay_ms == 100);
    CHECK(policy.on_down(false, "x").delay_ms == 200);
}

TEST_CASE("the remote plugin through the C ABI", "[remote][plugin]") {
    gradatum::PluginRegistry registry;
    REQUIRE(registry.load_file(GE_REMOTE_PLUGIN));
    const gradatum::Plugin* p = registry.find("remote");
    REQUIRE(p != nullptr);
    REQUIRE(p->backend != nullptr);
    CHECK(p->abi_minor == GE_ABI_MINOR);

    BackendInstance instance(*p,
                             remote_model({{"remote.url", "http://127.0.0.1:9000"},
                                           {"remote.api_key", "s3cret"},
                                           {"remote.retry_interval", "0.25"}}),
                             "cfg.ini");
    CHECK_FALSE(instance.has_process());
    CHECK_FALSE(instance.has_generation_probe());
    gradatum::Target target = instance.target("", 0);
    CHECK(target.host == "127.0.0.1");
    CHECK(target.port == 9000);
    CHECK(target.headers == Headers{{"Authorization", "Bearer s3cret"}});
    gradatum::ProbeRequest probe = instance.probe_request();
    CHECK(probe.method == "GET");
    CHECK(probe.path == "/health");
    CHECK(probe.headers == Headers{{"Authorization", "Bearer s3cret"}});
    CHECK(instance.probe_verdict(200, "{\"status\":\"ok\"}") == gradatum::ProbeVerdict::ready);
    CHECK(instance.probe_verdict(204, "") == gradatum::ProbeVerdict::ready);
    CHECK(instance.probe_verdict(503, "Loading model") == gradatum::ProbeVerdict::loading);
    CHECK(instance.probe_verdict(0, "") == gradatum::ProbeVerdict::loading);
    CHECK(instance.probe_verdict(401, "") == gradatum::ProbeVerdict::failed);
    CHECK_THROWS_AS(instance.spawn_spec("127.0.0.1", 1), gradatum::BackendError);

    gradatum::ExitInfo down;
    down.stopped_by_core = true;
    down.core_reason = "liveness probe failed 3 times in a row: Connection refused";
    gradatum::ExitDecision decision = instance.on_exit(down);
    CHECK(decision.restart);
    CHECK(decision.delay_ms == 250);
    CHECK(decision.reason ==
          "remote unreachable: liveness probe failed 3 times in a row: Connection refused");
    CHECK(instance.on_exit(down).delay_ms == 500);

    // Without a key, nothing is sent.
    BackendInstance bare(*p, remote_model({{"remote.url", "http://[::1]:9001/"}}), "cfg.ini");
    CHECK(bare.target("", 0).host == "::1");
    CHECK(bare.target("", 0).headers.empty());
    CHECK(bare.probe_request().headers.empty());

    // Config errors name models.<name>.<key>; a secret is never in one.
    CHECK(config_error(*p, remote_model({{"remote.url", "https://h:1"}}))
              .rfind("cfg.ini: models.m.remote.url: https is not supported yet", 0) == 0);
    CHECK(config_error(*p, remote_model({})) ==
          "cfg.ini: models.m.remote.url: missing (the server to forward to: write "
          "http://host:port)");
    auto with_ttl = remote_model({{"remote.url", "http://h:1"}});
    with_ttl.ttl = std::chrono::seconds(600);
    CHECK(config_error(*p, with_ttl) ==
          "cfg.ini: models.m.ttl: backend remote has no process to stop when idle (a remote "
          "target); remove the key");
    auto generate = remote_model({{"remote.url", "http://h:1"}});
    generate.liveness.generate = true;
    CHECK(
        config_error(*p, generate).rfind("cfg.ini: models.m.liveness.generate: plugin remote", 0) ==
        0);
}

TEST_CASE("the remote plugin refuses a host that offers ABI 1.2", "[remote][plugin]") {
    // A 1.2 host would never ask for capabilities and would try to spawn a process: the plugin
    // sees the host's minor version in init and refuses in create, naming both.
    void* library = dlopen(GE_REMOTE_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    REQUIRE(library != nullptr);
    auto* entry = static_cast<const ge_plugin_entry_t*>(dlsym(library, GE_PLUGIN_ENTRY_SYMBOL));
    REQUIRE(entry != nullptr);
    ge_host_api_t host;
    std::memset(&host, 0, sizeof host);
    host.struct_size =
        static_cast<uint32_t>(offsetof(ge_host_api_t, find_program) + sizeof host.find_program);
    host.abi_major = 1;
    host.abi_minor = 2;
    ge_error error{};
    REQUIRE(entry->init(&host, &error) == GE_OK);
    auto* factory =
        static_cast<const ge_backend_factory_t*>(entry->get_factory(GE_BACKEND_FACTORY_ID));
    REQUIRE(factory != nullptr);
    ge_instance* instance = nullptr;
    CHECK(factory->create("m", R"({"remote.url":"http://127.0.0.1:9000"})", &instance, &error) ==
          GE_ERR_CONFIG);
    CHECK(instance == nullptr);
    CHECK(std::string(error.key) == "backend");
    CHECK(std::string(error.message) ==
          "backend remote needs an engine with plugin ABI 1.3 or later (backends without a "
          "process); this engine offers ABI 1.2");
    entry->deinit();
    dlclose(library);
}
