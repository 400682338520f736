// plugin_abi.h must compile as strict C++ (-pedantic -Werror): the engine and C++ plugins use it.
// Built and run by compile_and_run.sh: the static asserts check the layout at compile time,
// main() checks at run time what only running code can show, and exits nonzero if a check fails.
#include <cstdio>
#include <cstring>

#include "gradatum/plugin_abi.h"

static_assert(offsetof(ge_plugin_entry_t, struct_size) == 0, "entry: struct_size first");
static_assert(offsetof(ge_host_api_t, struct_size) == 0, "host api: struct_size first");
static_assert(offsetof(ge_backend_factory_t, struct_size) == 0, "factory: struct_size first");
static_assert(offsetof(ge_exit_decision_t, struct_size) == 0, "exit decision: struct_size first");
static_assert(GE_ABI_MAJOR == 1, "a major bump breaks every plugin: do it on purpose");

namespace {

int failures = 0;

#define CHECK(condition)                                                                       \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            ++failures;                                                                        \
        }                                                                                      \
    } while (0)

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
const char kOneToken[] = R"({"n_predict":1})";
const ge_header_t kKey[] = {{"Authorization", "Bearer k"}};
int32_t generation_probe_request(ge_instance*, ge_probe_request_t* out, ge_error*) {
    // A 1.2 callee writes the 1.2 fields only when the caller's struct has them.
    if (!GE_HAS_FIELD(out, ge_probe_request_t, header_count)) return GE_ERR_INVALID;
    out->method = "POST";
    out->path = "/completion";
    out->body = kOneToken;
    out->body_len = sizeof kOneToken - 1;
    out->content_type = "application/json";
    out->headers = kKey;
    out->header_count = 1;
    return GE_OK;
}

uint32_t capabilities(ge_instance*) {
    return GE_BACKEND_NO_PROCESS;
}

// The factory's members in declaration order: a reorder in the header breaks this build.
const ge_backend_factory_t kFactory = {sizeof(ge_backend_factory_t),
                                       create,
                                       destroy,
                                       spawn_spec,
                                       probe_request,
                                       probe_verdict,
                                       target,
                                       on_exit,
                                       generation_probe_request,
                                       capabilities,
                                       nullptr};

}  // namespace

int main() {
    // Calls through the factory, as the host makes them.
    const ge_backend_factory_t* factory = &kFactory;
    CHECK(factory->struct_size == sizeof(ge_backend_factory_t));
    CHECK(GE_HAS_FIELD(factory, ge_backend_factory_t, on_exit));
    ge_instance* instance = reinterpret_cast<ge_instance*>(&failures);  // any non-null value
    ge_error error;
    std::memset(&error, 0, sizeof error);
    CHECK(factory->create("m", "{}", &instance, &error) == GE_ERR_INTERNAL);
    CHECK(instance == nullptr);
    factory->destroy(instance);
    ge_probe_result_t result;
    std::memset(&result, 0, sizeof result);
    result.struct_size = sizeof result;
    CHECK(factory->probe_verdict(instance, &result) == GE_PROBE_READY);
    ge_exit_info_t info;
    std::memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    ge_exit_decision_t decision;
    std::memset(&decision, 0, sizeof decision);
    decision.struct_size = sizeof decision;
    CHECK(decision.action == GE_EXIT_RESTART);  // zero-filled output: the default action
    CHECK(factory->on_exit(instance, &info, &decision) == GE_OK);
    CHECK(decision.action == GE_EXIT_GIVE_UP);

    // A factory from an older plugin stops before on_exit: the host must not call it.
    ge_backend_factory_t older = kFactory;
    older.struct_size = static_cast<uint32_t>(offsetof(ge_backend_factory_t, on_exit));
    CHECK(!GE_HAS_FIELD(&older, ge_backend_factory_t, on_exit));
    CHECK(GE_HAS_FIELD(&older, ge_backend_factory_t, target));

    // ABI 1.2: a 1.1 factory ends right after on_exit, so it has no generation_probe_request.
    CHECK(GE_HAS_FIELD(factory, ge_backend_factory_t, generation_probe_request));
    ge_backend_factory_t v11 = kFactory;
    v11.struct_size =
        static_cast<uint32_t>(offsetof(ge_backend_factory_t, on_exit) + sizeof v11.on_exit);
    CHECK(GE_HAS_FIELD(&v11, ge_backend_factory_t, on_exit));
    CHECK(!GE_HAS_FIELD(&v11, ge_backend_factory_t, generation_probe_request));

    // The generation probe as the host reads it: a zero-filled struct of the host's size.
    ge_probe_request_t probe;
    std::memset(&probe, 0, sizeof probe);
    probe.struct_size = sizeof probe;
    CHECK(factory->generation_probe_request(instance, &probe, &error) == GE_OK);
    CHECK(std::strcmp(probe.method, "POST") == 0);
    CHECK(probe.body_len == 15);
    CHECK(std::memcmp(probe.body, "{\"n_predict\":1}", probe.body_len) == 0);
    CHECK(std::strcmp(probe.content_type, "application/json") == 0);
    CHECK(probe.header_count == 1);
    CHECK(std::strcmp(probe.headers[0].name, "Authorization") == 0);
    // A 1.1 host's probe struct ends after path: the callee must leave the rest alone.
    std::memset(&probe, 0, sizeof probe);
    probe.struct_size = static_cast<uint32_t>(offsetof(ge_probe_request_t, body));
    CHECK(factory->generation_probe_request(instance, &probe, &error) == GE_ERR_INVALID);
    CHECK(probe.body == nullptr);

    // ABI 1.3: a 1.2 factory ends right after generation_probe_request: no capabilities, so a
    // process per load.
    CHECK(GE_HAS_FIELD(factory, ge_backend_factory_t, capabilities));
    CHECK(factory->capabilities(instance) == GE_BACKEND_NO_PROCESS);
    ge_backend_factory_t v12 = kFactory;
    v12.struct_size =
        static_cast<uint32_t>(offsetof(ge_backend_factory_t, generation_probe_request) +
                              sizeof v12.generation_probe_request);
    CHECK(GE_HAS_FIELD(&v12, ge_backend_factory_t, generation_probe_request));
    CHECK(!GE_HAS_FIELD(&v12, ge_backend_factory_t, capabilities));

    CHECK(std::strcmp(GE_PLUGIN_ENTRY_SYMBOL, "ge_plugin_entry") == 0);
    CHECK(std::strcmp(GE_BACKEND_FACTORY_ID, "ge.backend/1") == 0);

    if (failures) std::fprintf(stderr, "%d ABI check(s) failed\n", failures);
    return failures ? 1 : 0;
}
