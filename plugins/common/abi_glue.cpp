#include "common/abi_glue.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace plugin_common {

namespace {
const ge_host_api_t* g_host = nullptr;
}

const ge_host_api_t* host() {
    return g_host;
}

int32_t init_host(const ge_host_api_t* host, ge_error* error) {
    if (!host || host->abi_major != GE_ABI_MAJOR) {
        set_error(error, "", "host ABI major version differs");
        return GE_ERR_INVALID;
    }
    g_host = host;
    return GE_OK;
}

void deinit_host() {
    g_host = nullptr;
}

void set_error(ge_error* error, const std::string& key, const std::string& message) {
    if (!error) return;
    std::snprintf(error->key, sizeof error->key, "%s", key.c_str());
    std::snprintf(error->message, sizeof error->message, "%s", message.c_str());
}

std::map<std::string, std::string> config_values(const char* config_json) {
    auto json = nlohmann::json::parse(config_json ? config_json : "{}");
    std::map<std::string, std::string> values;
    for (auto& [key, value] : json.items()) {
        values[key] = value.is_string() ? value.get<std::string>() : value.dump();
    }
    return values;
}

void log(int32_t level, const std::string& message) {
    const ge_host_api_t* services = host();
    if (services && services->log) services->log(services->host_ctx, level, message.c_str());
}

std::optional<std::string> find_program(const ge_host_api_t* host, const std::string& program) {
    if (!host || !host->find_program) return std::nullopt;
    char buffer[4096];
    int64_t n = host->find_program(host->host_ctx, program.c_str(), buffer, sizeof buffer);
    if (n < 0 || n >= static_cast<int64_t>(sizeof buffer)) return std::nullopt;
    return std::string(buffer, static_cast<size_t>(n));
}

ChildExit child_exit(const ge_exit_info_t& info) {
    ChildExit exit;
    exit.exit_code = info.exit_code;
    exit.signal = info.signal;
    exit.was_ready = info.was_ready;
    exit.stopped_by_core = info.stopped_by_core;
    // A 1.0 host does not say; it then never reports an exec failure as an exit.
    exit.exec_failed = GE_HAS_FIELD(&info, ge_exit_info_t, exec_failed) && info.exec_failed;
    exit.ready_ms = info.ready_ms;
    exit.now_ms = info.now_ms;
    exit.stderr_tail = info.stderr_tail ? info.stderr_tail : "";
    exit.core_reason = info.core_reason ? info.core_reason : "";
    return exit;
}

void write_decision(const Decision& decision, ge_exit_decision_t* out) {
    out->action = decision.restart ? GE_EXIT_RESTART : GE_EXIT_GIVE_UP;
    out->delay_ms = decision.delay_ms;
    std::snprintf(out->reason, sizeof out->reason, "%s", decision.reason.c_str());
}

}  // namespace plugin_common
