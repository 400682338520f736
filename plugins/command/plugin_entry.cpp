// The command plugin's C entry: glue between plugin_abi.h and the policy code.
// Every exported function catches everything: no C++ exception may cross the ABI.
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/abi_glue.hpp"
#include "common/random_key.hpp"
#include "common/restart_policy.hpp"
#include "exit_rules.hpp"
#include "gradatum/plugin_abi.h"
#include "readiness.hpp"
#include "settings.hpp"
#include "spawn_builder.hpp"

namespace {

using plugin_common::set_error;

// Strings handed to the host stay alive here until the next call on the instance.
struct Held {
    std::vector<std::string> strings;
    std::vector<const char*> pointers;

    void hold(std::vector<std::string> values) {
        strings = std::move(values);
        pointers.clear();
        for (const auto& s : strings) pointers.push_back(s.c_str());
    }
};

}  // namespace

struct ge_instance {
    std::string model_name;
    command::Settings settings;
    plugin_common::RestartPolicy policy;
    Held argv, env;
    std::string host;
    // The configured headers and, with command.key_env, the spawn's key: rebuilt by each
    // spawn_spec, sent by target() and with the probes of that child. Never logged.
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<ge_header_t> header_refs;

    ge_instance(std::string name, command::Settings s)
        : model_name(std::move(name)),
          settings(std::move(s)),
          policy(settings.restart, command::exit_vocabulary()) {}
};

namespace {

int32_t create(const char* model_name, const char* config_json, ge_instance** out,
               ge_error* error) try {
    auto settings = command::parse_settings(
        plugin_common::config_values(config_json), [](const std::string& program) {
            return plugin_common::find_program(plugin_common::host(), program);
        });
    *out = new ge_instance(model_name ? model_name : "", std::move(settings));
    return GE_OK;
} catch (const plugin_common::SettingsError& e) {
    set_error(error, e.key, e.what());
    return GE_ERR_CONFIG;
} catch (const std::exception& e) {
    set_error(error, "", e.what());
    return GE_ERR_INTERNAL;
} catch (...) {
    set_error(error, "", "unknown error");
    return GE_ERR_INTERNAL;
}

void destroy(ge_instance* instance) {
    delete instance;
}

int32_t spawn_spec(ge_instance* instance, const ge_spawn_context_t* context, ge_spawn_spec_t* out,
                   ge_error* error) try {
    const auto& s = instance->settings;
    command::PlaceholderValues values{context->port, context->host ? context->host : "",
                                      instance->model_name};
    // A fresh secret for every child: a restarted child never accepts the key of the one before.
    std::string key = s.key_env ? plugin_common::random_key() : "";
    instance->argv.hold(command::build_argv(s, values));
    instance->env.hold(command::build_env(s, values, key));
    instance->headers = s.headers;
    if (!key.empty()) instance->headers.emplace_back("Authorization", "Bearer " + key);
    instance->header_refs.clear();
    for (const auto& [name, value] : instance->headers) {
        instance->header_refs.push_back({name.c_str(), value.c_str()});
    }
    out->program = s.program.c_str();
    out->argv = instance->argv.pointers.data();
    out->argc = instance->argv.pointers.size();
    out->env = instance->env.pointers.data();
    out->envc = instance->env.pointers.size();
    out->workdir = s.workdir.empty() ? nullptr : s.workdir.c_str();
    return GE_OK;
} catch (const std::exception& e) {
    set_error(error, "", e.what());
    return GE_ERR_INTERNAL;
} catch (...) {
    return GE_ERR_INTERNAL;
}

// The headers go with the probe too: a server with its own key may guard its health path.
int32_t probe_request(ge_instance* instance, ge_probe_request_t* out, ge_error*) {
    out->method = "GET";
    out->path = instance->settings.health_path.c_str();
    if (GE_HAS_FIELD(out, ge_probe_request_t, header_count)) {
        out->headers = instance->header_refs.data();
        out->header_count = instance->header_refs.size();
    }
    return GE_OK;
}

int32_t probe_verdict(ge_instance* instance, const ge_probe_result_t* result) {
    return command::probe_verdict(instance->settings, result->status);
}

int32_t target(ge_instance* instance, const ge_spawn_context_t* context, ge_target_t* out,
               ge_error* error) try {
    instance->host = context->host ? context->host : "";
    out->host = instance->host.c_str();
    out->port = context->port;
    out->headers = instance->header_refs.data();
    out->header_count = instance->header_refs.size();
    return GE_OK;
} catch (const std::exception& e) {
    set_error(error, "", e.what());
    return GE_ERR_INTERNAL;
} catch (...) {
    return GE_ERR_INTERNAL;
}

int32_t on_exit(ge_instance* instance, const ge_exit_info_t* info, ge_exit_decision_t* out) try {
    plugin_common::write_decision(instance->policy.on_exit(plugin_common::child_exit(*info)), out);
    return GE_OK;
} catch (...) {
    return GE_ERR_INTERNAL;
}

// No generation probe: a generic server has no one request that is sure to generate a token
// (whisper.cpp's has no completions at all), so liveness.generate is refused for it.
const ge_backend_factory_t kBackend = {
    sizeof(ge_backend_factory_t),
    create,
    destroy,
    spawn_spec,
    probe_request,
    probe_verdict,
    target,
    on_exit,
    nullptr,  // generation_probe_request
    nullptr,  // capabilities: a process per load
    nullptr,  // handover_step: a generic server has no state API to save through
};

int32_t init(const ge_host_api_t* host, ge_error* error) {
    return plugin_common::init_host(host, error);
}

void deinit(void) {
    plugin_common::deinit_host();
}

const void* get_factory(const char* id) {
    return id && std::strcmp(id, GE_BACKEND_FACTORY_ID) == 0 ? &kBackend : nullptr;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const ge_plugin_entry_t ge_plugin_entry = {
    sizeof(ge_plugin_entry_t),
    GE_ABI_MAJOR,
    GE_ABI_MINOR,
    "command",
    "0.1.0",
    init,
    deinit,
    get_factory,
};
