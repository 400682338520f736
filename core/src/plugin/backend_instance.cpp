// The C++ wrapper around one plugin instance: zero-filled out-structs, copies of everything the
// plugin returns (its pointers are only valid until the next call), errors turned into exceptions.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>

#include "plugin/backend_instance.hpp"
#include "plugin/plugin_call.hpp"
#include "plugin/plugin_registry.hpp"

namespace gradatum {

namespace {

template <typename T>
T zeroed() {
    T value;
    std::memset(&value, 0, sizeof value);
    value.struct_size = sizeof value;
    return value;
}

std::string text(const char* s) {
    return s ? s : "";
}

std::string hex(uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "%x", value);
    return text;
}

std::string bounded(const char* s, size_t capacity) {
    return std::string(s, strnlen(s, capacity));
}

// The fields out of a probe request the plugin filled; what it left zero keeps its default.
ProbeRequest copy_probe(const ge_probe_request_t& out) {
    ProbeRequest request;
    if (out.method && *out.method) request.method = out.method;
    if (out.path && *out.path) request.path = out.path;
    if (out.body && out.body_len > 0) request.body.assign(out.body, out.body_len);
    request.content_type = text(out.content_type);
    for (size_t i = 0; i < out.header_count && out.headers; ++i) {
        request.headers.emplace_back(text(out.headers[i].name), text(out.headers[i].value));
    }
    return request;
}

std::string abi_text(const Plugin& plugin) {
    return std::to_string(plugin.abi_major) + "." + std::to_string(plugin.abi_minor);
}

// The GE_BACKEND_* flags this host knows; any other bit is a plugin built for a newer ABI that
// did not check the host's abi_minor, and may mean something this host would get wrong.
constexpr uint32_t kKnownCapabilities = GE_BACKEND_NO_PROCESS;

// The instance's flags (ABI 1.3). A 1.0-1.2 factory ends before the member: a process.
uint32_t read_capabilities(const ge_backend_factory_t* backend, ge_instance* instance) {
    if (!GE_HAS_FIELD(backend, ge_backend_factory_t, capabilities) || !backend->capabilities)
        return 0;
    return backend->capabilities(instance);
}

}  // namespace

BackendInstance::BackendInstance(const Plugin& plugin, const ModelSettings& model,
                                 const std::string& config_file)
    : plugin_(plugin), model_name_(model.name) {
    if (model.liveness.generate && !has_generation_probe()) {
        throw ConfigError(config_error_text(
            config_file, "models." + model.name + ".liveness.generate",
            "plugin " + plugin_.id + " " + plugin_.version + " (ABI " + abi_text(plugin_) +
                ") offers no generation probe (generation_probe_request, ABI 1.2); set it to "
                "false or use a plugin that has one"));
    }
    nlohmann::json config = nlohmann::json::object();
    for (const auto& [key, value] : model.backend_config) config[key] = value;
    ge_error error{};
    PluginCall call(plugin_, "create", &model_name_);
    int32_t status =
        plugin_.backend->create(model.name.c_str(), config.dump().c_str(), &instance_, &error);
    if (status != GE_OK || !instance_) {
        std::string key = bounded(error.key, sizeof error.key);
        std::string message = bounded(error.message, sizeof error.message);
        if (message.empty())
            message = "plugin " + plugin_.id + " refused the model (status " +
                      std::to_string(status) + ")";
        throw ConfigError(config_error_text(
            config_file, key.empty() ? "models." + model.name : "models." + model.name + "." + key,
            message));
    }
    capabilities_ = read_capabilities(plugin_.backend, instance_);
    // The instance is ours from here: the destructor does not run for a throwing constructor.
    auto refuse = [&](const std::string& key, const std::string& message) {
        plugin_.backend->destroy(instance_);
        instance_ = nullptr;
        throw ConfigError(
            config_error_text(config_file, "models." + model.name + "." + key, message));
    };
    if (uint32_t unknown = capabilities_ & ~kKnownCapabilities) {
        refuse("backend", "plugin " + plugin_.id + " " + plugin_.version + " (ABI " +
                              abi_text(plugin_) + ") declares capability flags 0x" + hex(unknown) +
                              " that this engine (ABI " + std::to_string(GE_ABI_MAJOR) + "." +
                              std::to_string(GE_ABI_MINOR) +
                              ") does not know; upgrade the engine or the plugin");
    }
    if (model.keep_cache && !has_process()) {
        refuse("keep_cache", "backend " + plugin_.id +
                                 " has no process whose state could be kept (a remote target); "
                                 "remove the key");
    }
    if (model.keep_cache && !has_handover()) {
        refuse("keep_cache", "plugin " + plugin_.id + " " + plugin_.version + " (ABI " +
                                 abi_text(plugin_) +
                                 ") cannot save and restore its child's state (handover_step, ABI "
                                 "1.4); set it to false or use a plugin that can");
    }
    // No process, nothing to stop when idle: a ttl would only stop the probing.
    if (!has_process() && model.ttl.count() > 0) {
        refuse("ttl", "backend " + plugin_.id +
                          " has no process to stop when idle (a remote target); remove the key");
    }
}

BackendInstance::~BackendInstance() {
    if (!instance_) return;
    PluginCall call(plugin_, "destroy", &model_name_);
    plugin_.backend->destroy(instance_);
}

const std::string& BackendInstance::plugin_id() const {
    return plugin_.id;
}

SpawnSpec BackendInstance::spawn_spec(const std::string& host, uint16_t port,
                                      const std::string& state_dir) {
    auto context = zeroed<ge_spawn_context_t>();
    context.host = host.c_str();
    context.port = port;
    context.state_dir = state_dir.empty() ? nullptr : state_dir.c_str();
    auto out = zeroed<ge_spawn_spec_t>();
    ge_error error{};
    PluginCall call(plugin_, "spawn_spec", &model_name_);
    if (plugin_.backend->spawn_spec(instance_, &context, &out, &error) != GE_OK) {
        throw BackendError("plugin " + plugin_.id + " gave no spawn spec for model " + model_name_ +
                           ": " + bounded(error.message, sizeof error.message));
    }
    SpawnSpec spec;
    spec.program = text(out.program);
    for (size_t i = 0; i < out.argc && out.argv; ++i) spec.argv.push_back(text(out.argv[i]));
    for (size_t i = 0; i < out.envc && out.env; ++i) spec.env.push_back(text(out.env[i]));
    spec.workdir = text(out.workdir);
    return spec;
}

Target BackendInstance::target(const std::string& host, uint16_t port,
                               const std::string& state_dir) {
    auto context = zeroed<ge_spawn_context_t>();
    context.host = host.c_str();
    context.port = port;
    context.state_dir = state_dir.empty() ? nullptr : state_dir.c_str();
    auto out = zeroed<ge_target_t>();
    ge_error error{};
    PluginCall call(plugin_, "target", &model_name_);
    if (plugin_.backend->target(instance_, &context, &out, &error) != GE_OK) {
        throw BackendError("plugin " + plugin_.id + " gave no target for model " + model_name_ +
                           ": " + bounded(error.message, sizeof error.message));
    }
    Target target;
    target.host = text(out.host);
    target.port = out.port;
    for (size_t i = 0; i < out.header_count && out.headers; ++i) {
        target.headers.emplace_back(text(out.headers[i].name), text(out.headers[i].value));
    }
    return target;
}

ProbeRequest BackendInstance::probe_request() {
    auto out = zeroed<ge_probe_request_t>();
    ge_error error{};
    PluginCall call(plugin_, "probe_request", &model_name_);
    if (plugin_.backend->probe_request(instance_, &out, &error) != GE_OK) {
        throw BackendError("plugin " + plugin_.id + " gave no probe for model " + model_name_ +
                           ": " + bounded(error.message, sizeof error.message));
    }
    return copy_probe(out);
}

bool BackendInstance::has_generation_probe() const {
    // A 1.0/1.1 factory ends before the field: reading it would read past the plugin's struct.
    return GE_HAS_FIELD(plugin_.backend, ge_backend_factory_t, generation_probe_request) &&
           plugin_.backend->generation_probe_request != nullptr;
}

std::optional<ProbeRequest> BackendInstance::generation_probe_request() {
    if (!has_generation_probe()) return std::nullopt;
    auto out = zeroed<ge_probe_request_t>();
    ge_error error{};
    PluginCall call(plugin_, "generation_probe_request", &model_name_);
    if (plugin_.backend->generation_probe_request(instance_, &out, &error) != GE_OK) {
        throw BackendError("plugin " + plugin_.id + " gave no generation probe for model " +
                           model_name_ + ": " + bounded(error.message, sizeof error.message));
    }
    return copy_probe(out);
}

bool BackendInstance::has_handover() const {
    // A factory from before 1.4 ends before the field.
    return GE_HAS_FIELD(plugin_.backend, ge_backend_factory_t, handover_step) &&
           plugin_.backend->handover_step != nullptr;
}

std::optional<ProbeRequest> BackendInstance::handover_step(
    HandoverPoint point, const std::optional<ProbeAnswerView>& previous) {
    if (!has_handover()) return std::nullopt;
    auto result = zeroed<ge_probe_result_t>();
    if (previous) {
        result.status = previous->status;
        result.body = previous->body.data();
        result.body_len = previous->body.size();
    }
    auto out = zeroed<ge_probe_request_t>();
    ge_error error{};
    PluginCall call(plugin_, "handover_step", &model_name_);
    int32_t status = plugin_.backend->handover_step(
        instance_, point == HandoverPoint::save ? GE_HANDOVER_SAVE : GE_HANDOVER_RESTORE,
        previous ? &result : nullptr, &out, &error);
    if (status != GE_OK) {
        std::string message = bounded(error.message, sizeof error.message);
        throw BackendError("plugin " + plugin_.id + " ended the " +
                           (point == HandoverPoint::save ? "save" : "restore") + " of model " +
                           model_name_ + ": " +
                           (message.empty() ? "status " + std::to_string(status) : message));
    }
    if (!out.path || !*out.path) return std::nullopt;
    return copy_probe(out);
}

ProbeVerdict BackendInstance::probe_verdict(int status, const std::string& body) {
    auto result = zeroed<ge_probe_result_t>();
    result.status = status;
    result.body = body.data();
    result.body_len = body.size();
    PluginCall call(plugin_, "probe_verdict", &model_name_);
    switch (plugin_.backend->probe_verdict(instance_, &result)) {
        case GE_PROBE_READY:
            return ProbeVerdict::ready;
        case GE_PROBE_FAILED:
            return ProbeVerdict::failed;
        default:
            return ProbeVerdict::loading;
    }
}

ExitDecision BackendInstance::on_exit(const ExitInfo& info) {
    auto in = zeroed<ge_exit_info_t>();
    in.exit_code = info.exit_code;
    in.signal = info.signal;
    in.was_ready = info.was_ready;
    in.stopped_by_core = info.stopped_by_core;
    in.exec_failed = info.exec_failed;
    in.uptime_ms = info.uptime_ms;
    in.ready_ms = info.ready_ms;
    in.now_ms = info.now_ms;
    in.stderr_tail = info.stderr_tail.c_str();
    in.core_reason = info.core_reason.c_str();
    auto out = zeroed<ge_exit_decision_t>();
    ExitDecision decision;
    PluginCall call(plugin_, "on_exit", &model_name_);
    if (plugin_.backend->on_exit(instance_, &in, &out) != GE_OK) {
        decision.reason = "plugin " + plugin_.id + " failed to decide; giving up";
        return decision;
    }
    decision.restart = out.action == GE_EXIT_RESTART;
    decision.delay_ms = out.delay_ms;
    decision.reason = bounded(out.reason, sizeof out.reason);
    return decision;
}

}  // namespace gradatum
