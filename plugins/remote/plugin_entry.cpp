// The remote plugin's C entry: a backend without a process (ABI 1.3, GE_BACKEND_NO_PROCESS).
// The model is a server that already runs somewhere (remote.url); the engine probes it and
// forwards to it, and never spawns or kills anything. Every exported function catches
// everything: no C++ exception may cross the ABI.
#include <cstring>
#include <string>
#include <vector>

#include "common/abi_glue.hpp"
#include "gradatum/plugin_abi.h"
#include "retry_policy.hpp"
#include "settings.hpp"

namespace {
using plugin_common::set_error;
}  // namespace

struct ge_instance {
    remote::Settings settings;
    remote::RetryPolicy policy;
    // Handed to the host; stable for the instance's life (nothing changes between calls).
    std::string authorization;
    std::vector<ge_header_t> headers;

    explicit ge_instance(remote::Settings s)
        : settings(std::move(s)), policy(settings.retry_interval, settings.retry_max) {
        if (settings.api_key) {
            authorization = "Bearer " + *settings.api_key;
            headers.push_back({"Authorization", authorization.c_str()});
        }
    }
};

namespace {

int32_t create(const char* model_name, const char* config_json, ge_instance** out,
               ge_error* error) try {
    (void)model_name;
    const ge_host_api_t* host = plugin_common::host();
    // A host before 1.3 does not know GE_BACKEND_NO_PROCESS and would try to spawn a process.
    if (!host || !GE_HAS_FIELD(host, ge_host_api_t, abi_minor) || host->abi_minor < 3) {
        set_error(
            error, "backend",
            "backend remote needs an engine with plugin ABI 1.3 or later (backends "
            "without a process); this engine offers ABI " +
                (host ? std::to_string(host->abi_major) + "." + std::to_string(host->abi_minor)
                      : std::string("?")));
        return GE_ERR_CONFIG;
    }
    *out = new ge_instance(remote::parse_settings(plugin_common::config_values(config_json)));
    return GE_OK;
} catch (const remote::SettingsError& e) {
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

uint32_t capabilities(ge_instance*) {
    return GE_BACKEND_NO_PROCESS;
}

// Never asked by a 1.3 host (capabilities says there is no process); a host that asks anyway
// gets an error instead of a program to run.
int32_t spawn_spec(ge_instance*, const ge_spawn_context_t*, ge_spawn_spec_t*, ge_error* error) {
    set_error(error, "", "the remote backend has no process to spawn (GE_BACKEND_NO_PROCESS)");
    return GE_ERR_INVALID;
}

// The configured key goes with the probes too: a server that wants it on every path answers
// 401 otherwise, which would read as "not a health endpoint".
int32_t probe_request(ge_instance* instance, ge_probe_request_t* out, ge_error*) {
    out->method = "GET";
    out->path = instance->settings.health_path.c_str();
    if (GE_HAS_FIELD(out, ge_probe_request_t, header_count)) {
        out->headers = instance->headers.data();
        out->header_count = instance->headers.size();
    }
    return GE_OK;
}

// 2xx: ready. 4xx: whatever answers there is not a health endpoint that will pass (a wrong path
// or key); the policy still probes again later. The rest (503 while a llama-server loads, no
// answer): not yet.
int32_t probe_verdict(ge_instance*, const ge_probe_result_t* result) {
    if (result->status >= 200 && result->status < 300) return GE_PROBE_READY;
    if (result->status >= 400 && result->status < 500) return GE_PROBE_FAILED;
    return GE_PROBE_LOADING;
}

// No spawn: the context is empty (host "", port 0); the target is the configured server.
int32_t target(ge_instance* instance, const ge_spawn_context_t*, ge_target_t* out, ge_error*) {
    out->host = instance->settings.endpoint.host.c_str();
    out->port = instance->settings.endpoint.port;
    out->headers = instance->headers.data();
    out->header_count = instance->headers.size();
    return GE_OK;
}

// Called when the target went down (no process exited: core_reason says what failed).
int32_t on_exit(ge_instance* instance, const ge_exit_info_t* info, ge_exit_decision_t* out) try {
    auto retry =
        instance->policy.on_down(info->was_ready, info->core_reason ? info->core_reason : "");
    out->action = GE_EXIT_RESTART;
    out->delay_ms = retry.delay_ms;
    std::snprintf(out->reason, sizeof out->reason, "%s", retry.reason.c_str());
    return GE_OK;
} catch (...) {
    return GE_ERR_INTERNAL;
}

const ge_backend_factory_t kBackend = {
    sizeof(ge_backend_factory_t),
    create,
    destroy,
    spawn_spec,
    probe_request,
    probe_verdict,
    target,
    on_exit,
    nullptr,  // generation_probe_request: a remote's API is not known to be llama-server's
    capabilities,
    nullptr,  // handover_step: no child whose state the engine would keep
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
    "remote",
    "0.1.0",
    init,
    deinit,
    get_factory,
};
