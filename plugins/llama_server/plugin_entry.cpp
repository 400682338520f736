// The llama_server plugin's C entry: glue between plugin_abi.h and the policy code.
// Every exported function catches everything: no C++ exception may cross the ABI.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "argv_builder.hpp"
#include "common/abi_glue.hpp"
#include "gradatum/plugin_abi.h"
#include "restart_policy.hpp"
#include "secret.hpp"
#include "settings.hpp"
#include "slot_cache.hpp"

namespace {

using plugin_common::set_error;

std::optional<std::string> host_find_program(const std::string& program) {
    return plugin_common::find_program(plugin_common::host(), program);
}

// Strings handed to the host stay alive here until the next call on the instance.
struct Returned {
    std::vector<std::string> strings;
    std::vector<const char*> pointers;
    std::vector<ge_header_t> headers;
    std::string host;
};

}  // namespace

struct ge_instance {
    std::string model_name;
    llama_server::Settings settings;
    llama_server::RestartPolicy policy;
    Returned argv, env, target;
    std::string program, authorization;
    // The key of the latest spawn: the configured api_key, or a fresh random one per spawn.
    // Empty until the first spawn_spec. Never logged, never on the command line.
    std::string spawn_key;
    // The generation probe's header (the spawn's key: /completion needs it, /health does not).
    std::string probe_authorization;
    std::vector<ge_header_t> probe_headers;
    // keep_cache (ABI 1.4): the slots' KV cache handed from one child to the next.
    llama_server::SlotCache slot_cache{[this](int level, const std::string& message) {
        plugin_common::log(level, "model " + model_name + ": " + message);
    }};
    Returned handover;  // the handover request's body, path and header
    std::string handover_authorization;

    ge_instance(std::string name, llama_server::Settings s)
        : model_name(std::move(name)), settings(std::move(s)), policy(settings.restart) {
        // Without --alias, llama-server calls the model by its file path in every answer and in
        // /v1/models; clients asked for the configured name, and should see it back.
        if (!settings.alias && !names_alias(settings.extra_args)) settings.alias = model_name;
    }

    static bool names_alias(const std::vector<std::string>& args) {
        for (const auto& arg : args) {
            if (arg == "--alias" || arg == "-a" || arg.rfind("--alias=", 0) == 0) return true;
        }
        return false;
    }
};

namespace {

void hold(Returned& out, std::vector<std::string> strings) {
    out.strings = std::move(strings);
    out.pointers.clear();
    for (const auto& s : out.strings) out.pointers.push_back(s.c_str());
}

int32_t create(const char* model_name, const char* config_json, ge_instance** out,
               ge_error* error) try {
    auto settings =
        llama_server::parse_settings(plugin_common::config_values(config_json), host_find_program);
    *out = new ge_instance(model_name ? model_name : "", std::move(settings));
    return GE_OK;
} catch (const llama_server::SettingsError& e) {
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
    // A fresh secret for every child: a restarted child never accepts the key of the one before.
    std::string key = s.api_key ? *s.api_key : llama_server::random_key();
    auto argv = llama_server::build_argv(s, context->host, context->port);
    std::string state_dir =
        GE_HAS_FIELD(context, ge_spawn_context_t, state_dir) && context->state_dir
            ? context->state_dir
            : "";
    if (!state_dir.empty()) {
        for (const auto& arg : s.extra_args) {
            if (arg == "--slot-save-path" || arg.rfind("--slot-save-path=", 0) == 0) {
                set_error(error, "llama_server.args",
                          "--slot-save-path is the engine's with keep_cache (" + state_dir +
                              "): remove it from llama_server.args");
                return GE_ERR_CONFIG;
            }
        }
        argv.push_back("--slot-save-path");
        argv.push_back(state_dir);
    }
    instance->slot_cache.prepare(
        state_dir, state_dir.empty() ? nlohmann::json() : llama_server::child_identity(s));
    hold(instance->argv, std::move(argv));
    hold(instance->env, llama_server::build_env(s, key));
    instance->spawn_key = std::move(key);
    instance->program = s.binary;
    out->program = instance->program.c_str();
    out->argv = instance->argv.pointers.data();
    out->argc = instance->argv.pointers.size();
    out->env = instance->env.pointers.data();
    out->envc = instance->env.pointers.size();
    out->workdir = nullptr;
    return GE_OK;
} catch (const std::exception& e) {
    set_error(error, "", e.what());
    return GE_ERR_INTERNAL;
} catch (...) {
    return GE_ERR_INTERNAL;
}

int32_t probe_request(ge_instance*, ge_probe_request_t* out, ge_error*) {
    out->method = "GET";
    out->path = "/health";  // needs no API key; 503 "Loading model" until ready
    return GE_OK;
}

// One token from a one-word prompt, evaluated afresh. Not an empty prompt: llama-server answers
// that without decoding anything when the model adds no BOS token. A slot is taken either way.
constexpr char kGenerationBody[] = R"({"prompt":"Hello","n_predict":1,"cache_prompt":false})";

int32_t generation_probe_request(ge_instance* instance, ge_probe_request_t* out,
                                 ge_error* error) try {
    if (!GE_HAS_FIELD(out, ge_probe_request_t, header_count)) {
        set_error(error, "", "the host's probe request has no body or headers (ABI before 1.2)");
        return GE_ERR_INVALID;
    }
    // Asked right after probe_request for the same child: the key of that spawn is the one.
    if (instance->spawn_key.empty()) {
        set_error(error, "", "generation probe asked for before any spawn_spec: no key yet");
        return GE_ERR_INVALID;
    }
    instance->probe_authorization = "Bearer " + instance->spawn_key;
    instance->probe_headers = {{"Authorization", instance->probe_authorization.c_str()}};
    out->method = "POST";
    out->path = "/completion";  // llama-server's own endpoint: no chat template involved
    out->body = kGenerationBody;
    out->body_len = sizeof kGenerationBody - 1;
    out->content_type = "application/json";
    out->headers = instance->probe_headers.data();
    out->header_count = instance->probe_headers.size();
    return GE_OK;
} catch (const std::exception& e) {
    set_error(error, "", e.what());
    return GE_ERR_INTERNAL;
} catch (...) {
    return GE_ERR_INTERNAL;
}

// Judges both probes: /health (503 while loading) and the generation (200 with one token).
int32_t probe_verdict(ge_instance*, const ge_probe_result_t* result) {
    if (result->status == 200) return GE_PROBE_READY;
    // 4xx: whatever answers is not a llama-server /health; waiting will not help.
    if (result->status >= 400 && result->status < 500) return GE_PROBE_FAILED;
    return GE_PROBE_LOADING;  // no answer yet, 503 while loading
}

int32_t target(ge_instance* instance, const ge_spawn_context_t* context, ge_target_t* out,
               ge_error* error) try {
    // The core asks for the target right after the spawn spec of the same child (ABI: one
    // thread per instance), so the key of that spawn is the one to send.
    if (instance->spawn_key.empty()) {
        set_error(error, "", "target asked for before any spawn_spec: no key to send yet");
        return GE_ERR_INVALID;
    }
    instance->target.host = context->host;
    instance->target.headers.clear();
    instance->authorization = "Bearer " + instance->spawn_key;
    instance->target.headers.push_back({"Authorization", instance->authorization.c_str()});
    out->host = instance->target.host.c_str();
    out->port = context->port;
    out->headers = instance->target.headers.data();
    out->header_count = instance->target.headers.size();
    return GE_OK;
} catch (const std::exception& e) {
    set_error(error, "", e.what());
    return GE_ERR_INTERNAL;
} catch (...) {
    return GE_ERR_INTERNAL;
}

// keep_cache: save the slots before a planned stop, restore them before ready (slot_cache.hpp).
int32_t handover_step(ge_instance* instance, int32_t point, const ge_probe_result_t* previous,
                      ge_probe_request_t* next, ge_error* error) try {
    std::optional<llama_server::HttpAnswer> answer;
    if (previous)
        answer = llama_server::HttpAnswer{previous->status,
                                          std::string(previous->body ? previous->body : "",
                                                      previous->body ? previous->body_len : 0)};
    auto& cache = instance->slot_cache;
    auto request = point == GE_HANDOVER_SAVE ? cache.save_step(answer ? &*answer : nullptr)
                                             : cache.restore_step(answer ? &*answer : nullptr);
    if (!request) return GE_OK;  // done: next->path stays NULL
    // The slot API needs the key of the spawn that started this child.
    instance->handover_authorization = "Bearer " + instance->spawn_key;
    hold(instance->handover, {request->method, request->path, request->body});
    instance->handover.headers = {{"Authorization", instance->handover_authorization.c_str()}};
    const auto& held = instance->handover.strings;
    next->method = held[0].c_str();
    next->path = held[1].c_str();
    if (!held[2].empty()) {
        next->body = held[2].c_str();
        next->body_len = held[2].size();
        next->content_type = "application/json";
    }
    next->headers = instance->handover.headers.data();
    next->header_count = instance->handover.headers.size();
    return GE_OK;
} catch (const std::exception& e) {
    set_error(error, "", std::string("keep_cache: ") + e.what());
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

const ge_backend_factory_t kBackend = {
    sizeof(ge_backend_factory_t),
    create,
    destroy,
    spawn_spec,
    probe_request,
    probe_verdict,
    target,
    on_exit,
    generation_probe_request,
    nullptr,  // capabilities: a child process per load
    handover_step,
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
    "llama_server",
    "0.1.0",
    init,
    deinit,
    get_factory,
};
