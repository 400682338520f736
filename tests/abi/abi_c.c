/* plugin_abi.h must compile as strict C (-std=c11 -pedantic -Werror): plugins are written in C. */
#include "gradatum/plugin_abi.h"

/* Every growable struct starts with struct_size, so GE_HAS_FIELD works on any of them. */
_Static_assert(offsetof(ge_plugin_entry_t, struct_size) == 0, "entry: struct_size first");
_Static_assert(offsetof(ge_host_api_t, struct_size) == 0, "host api: struct_size first");
_Static_assert(offsetof(ge_backend_factory_t, struct_size) == 0, "factory: struct_size first");
_Static_assert(offsetof(ge_spawn_context_t, struct_size) == 0, "spawn context: struct_size first");
_Static_assert(offsetof(ge_spawn_spec_t, struct_size) == 0, "spawn spec: struct_size first");
_Static_assert(offsetof(ge_probe_request_t, struct_size) == 0, "probe request: struct_size first");
_Static_assert(offsetof(ge_probe_result_t, struct_size) == 0, "probe result: struct_size first");
_Static_assert(offsetof(ge_target_t, struct_size) == 0, "target: struct_size first");
_Static_assert(offsetof(ge_exit_info_t, struct_size) == 0, "exit info: struct_size first");
_Static_assert(offsetof(ge_exit_decision_t, struct_size) == 0, "exit decision: struct_size first");
_Static_assert(GE_ABI_MAJOR == 1, "a major bump breaks every plugin: do it on purpose");
_Static_assert(GE_OK == 0 && GE_PROBE_LOADING == 0 && GE_EXIT_RESTART == 0, "zero values");
_Static_assert(sizeof(((ge_error*)0)->message) == 512, "error message buffer");

static int32_t init(const ge_host_api_t* host, ge_error* error) {
    (void)error;
    /* A plugin reads a host service only when the host's struct is large enough. */
    if (!GE_HAS_FIELD(host, ge_host_api_t, find_program)) return GE_ERR_INVALID;
    return GE_OK;
}

static void deinit(void) {}

static const void* get_factory(const char* id) {
    (void)id;
    return NULL;
}

const ge_plugin_entry_t ge_plugin_entry = {
    .struct_size = sizeof(ge_plugin_entry_t),
    .abi_major = GE_ABI_MAJOR,
    .abi_minor = GE_ABI_MINOR,
    .plugin_id = "abi_c",
    .plugin_version = "0",
    .init = init,
    .deinit = deinit,
    .get_factory = get_factory,
};

int entry_has_get_factory(void);
int entry_has_get_factory(void) {
    return GE_HAS_FIELD(&ge_plugin_entry, ge_plugin_entry_t, get_factory) &&
           GE_PLUGIN_ENTRY_SYMBOL[0] == 'g' && GE_BACKEND_FACTORY_ID[0] == 'g';
}
