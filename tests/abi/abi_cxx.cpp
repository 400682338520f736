// plugin_abi.h must compile as strict C++ (-pedantic -Werror): the engine and C++ plugins use it.
#include "gradatum/plugin_abi.h"

static_assert(offsetof(ge_plugin_entry_t, struct_size) == 0, "entry: struct_size first");
static_assert(offsetof(ge_host_api_t, struct_size) == 0, "host api: struct_size first");
static_assert(offsetof(ge_backend_factory_t, struct_size) == 0, "factory: struct_size first");
static_assert(offsetof(ge_exit_decision_t, struct_size) == 0, "exit decision: struct_size first");
static_assert(GE_ABI_MAJOR == 1, "a major bump breaks every plugin: do it on purpose");

namespace {

int32_t create(const char*, const char*, ge_instance** out, ge_error*) {
    *out = nullptr;
    return GE_ERR_INTERNAL;
}
void destroy(ge_instance*) {}
int32_t spawn_spec(ge_instance*, const ge_spawn_context_t*, ge_spawn_spec_t*, ge_error*) {
    return GE_OK;
}
int32_t probe_request(ge_instance*, ge_probe_request_t*, ge_error*) {
    return GE_OK;
}
int32_t probe_verdict(ge_instance*, const ge_probe_result_t*) {
    return GE_PROBE_READY;
}
int32_t target(ge_instance*, const ge_spawn_context_t*, ge_target_t*, ge_error*) {
    return GE_OK;
}
int32_t on_exit(ge_instance*, const ge_exit_info_t*, ge_exit_decision_t* out) {
    out->action = GE_EXIT_GIVE_UP;
    return GE_OK;
}

// The factory's members in declaration order: a reorder in the header breaks this build.
const ge_backend_factory_t kFactory = {sizeof(ge_backend_factory_t),
                                       create,
                                       destroy,
                                       spawn_spec,
                                       probe_request,
                                       probe_verdict,
                                       target,
                                       on_exit};

}  // namespace

bool factory_is_complete(const ge_backend_factory_t* f);
bool factory_is_complete(const ge_backend_factory_t* f) {
    return GE_HAS_FIELD(f, ge_backend_factory_t, on_exit) && f == &kFactory;
}
