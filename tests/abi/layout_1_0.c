/* Prints the size and offset of every ABI 1.0 struct member. Built twice, against the frozen
 * 1.0 header (-DGE_FROZEN_1_0) and against the current one: compare_layouts.sh requires the same
 * output, so a 1.0 field that moved or changed size (breaking every 1.0 plugin) fails the test.
 * The current header's structs may be longer, so struct sizes are not printed. */
#include <stdio.h>

#ifdef GE_FROZEN_1_0
#include "plugin_abi_1_0.h"
#else
#include "gradatum/plugin_abi.h"
#endif

#define FIELD(type, field)                                                      \
    printf("%s.%s offset %zu size %zu\n", #type, #field, offsetof(type, field), \
           sizeof(((type*)0)->field))

int main(void) {
    printf("GE_ABI_MAJOR %d\n", GE_ABI_MAJOR);
    printf("%s %s\n", GE_PLUGIN_ENTRY_SYMBOL, GE_BACKEND_FACTORY_ID);
    printf("values %d %d %d %d | %d %d %d | %d %d | %d %d %d %d\n", GE_OK, GE_ERR_CONFIG,
           GE_ERR_INVALID, GE_ERR_INTERNAL, GE_PROBE_LOADING, GE_PROBE_READY, GE_PROBE_FAILED,
           GE_EXIT_RESTART, GE_EXIT_GIVE_UP, GE_LOG_DEBUG, GE_LOG_INFO, GE_LOG_WARN, GE_LOG_ERROR);
    printf("ge_error %zu\n", sizeof(ge_error));
    FIELD(ge_error, key);
    FIELD(ge_error, message);
    printf("ge_header_t %zu\n", sizeof(ge_header_t)); /* arrays of it: never grows */
    FIELD(ge_header_t, name);
    FIELD(ge_header_t, value);
    FIELD(ge_host_api_t, struct_size);
    FIELD(ge_host_api_t, abi_major);
    FIELD(ge_host_api_t, abi_minor);
    FIELD(ge_host_api_t, host_ctx);
    FIELD(ge_host_api_t, log);
    FIELD(ge_host_api_t, config_get);
    FIELD(ge_host_api_t, get_extension);
    FIELD(ge_host_api_t, find_program);
    FIELD(ge_spawn_context_t, struct_size);
    FIELD(ge_spawn_context_t, host);
    FIELD(ge_spawn_context_t, port);
    FIELD(ge_spawn_spec_t, struct_size);
    FIELD(ge_spawn_spec_t, program);
    FIELD(ge_spawn_spec_t, argv);
    FIELD(ge_spawn_spec_t, argc);
    FIELD(ge_spawn_spec_t, env);
    FIELD(ge_spawn_spec_t, envc);
    FIELD(ge_spawn_spec_t, workdir);
    FIELD(ge_probe_request_t, struct_size);
    FIELD(ge_probe_request_t, method);
    FIELD(ge_probe_request_t, path);
    FIELD(ge_probe_result_t, struct_size);
    FIELD(ge_probe_result_t, status);
    FIELD(ge_probe_result_t, body);
    FIELD(ge_probe_result_t, body_len);
    FIELD(ge_target_t, struct_size);
    FIELD(ge_target_t, host);
    FIELD(ge_target_t, port);
    FIELD(ge_target_t, headers);
    FIELD(ge_target_t, header_count);
    FIELD(ge_exit_info_t, struct_size);
    FIELD(ge_exit_info_t, exit_code);
    FIELD(ge_exit_info_t, signal);
    FIELD(ge_exit_info_t, was_ready);
    FIELD(ge_exit_info_t, stopped_by_core);
    FIELD(ge_exit_info_t, uptime_ms);
    FIELD(ge_exit_info_t, ready_ms);
    FIELD(ge_exit_info_t, now_ms);
    FIELD(ge_exit_info_t, stderr_tail);
    FIELD(ge_exit_info_t, core_reason);
    FIELD(ge_exit_decision_t, struct_size);
    FIELD(ge_exit_decision_t, action);
    FIELD(ge_exit_decision_t, delay_ms);
    FIELD(ge_exit_decision_t, reason);
    FIELD(ge_backend_factory_t, struct_size);
    FIELD(ge_backend_factory_t, create);
    FIELD(ge_backend_factory_t, destroy);
    FIELD(ge_backend_factory_t, spawn_spec);
    FIELD(ge_backend_factory_t, probe_request);
    FIELD(ge_backend_factory_t, probe_verdict);
    FIELD(ge_backend_factory_t, target);
    FIELD(ge_backend_factory_t, on_exit);
    FIELD(ge_plugin_entry_t, struct_size);
    FIELD(ge_plugin_entry_t, abi_major);
    FIELD(ge_plugin_entry_t, abi_minor);
    FIELD(ge_plugin_entry_t, plugin_id);
    FIELD(ge_plugin_entry_t, plugin_version);
    FIELD(ge_plugin_entry_t, init);
    FIELD(ge_plugin_entry_t, deinit);
    FIELD(ge_plugin_entry_t, get_factory);
    return 0;
}
