/* plugin_abi.h must compile as strict C (-std=c11 -pedantic -Werror): plugins are written in C.
 * Built and run by compile_and_run.sh: the static asserts check the layout at compile time, main()
 * checks at run time what only running code can show, and exits nonzero if a check fails. */
#include <stdio.h>
#include <string.h>

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
/* Fields are only appended: 1.2's are after every 1.0/1.1 field of the same struct. */
_Static_assert(GE_ABI_MINOR >= 2, "generation_probe_request and probe bodies are ABI 1.2");
_Static_assert(offsetof(ge_probe_request_t, body) > offsetof(ge_probe_request_t, path),
               "probe request: body after path");
_Static_assert(offsetof(ge_probe_request_t, header_count) >
                   offsetof(ge_probe_request_t, content_type),
               "probe request: headers last");
_Static_assert(offsetof(ge_backend_factory_t, generation_probe_request) >
                   offsetof(ge_backend_factory_t, on_exit),
               "factory: generation_probe_request after on_exit");
/* 1.3: capabilities comes right after generation_probe_request and ends the factory. */
_Static_assert(GE_ABI_MINOR >= 3, "capabilities and GE_BACKEND_NO_PROCESS are ABI 1.3");
_Static_assert(offsetof(ge_backend_factory_t, capabilities) ==
                   offsetof(ge_backend_factory_t, generation_probe_request) +
                       sizeof(((ge_backend_factory_t*)0)->generation_probe_request),
               "factory: capabilities right after generation_probe_request");
/* 1.4: handover_step right after capabilities, and ends the factory; state_dir ends the spawn
 * context. */
_Static_assert(GE_ABI_MINOR >= 4, "handover_step and the spawn context's state_dir are ABI 1.4");
_Static_assert(offsetof(ge_backend_factory_t, handover_step) ==
                   offsetof(ge_backend_factory_t, capabilities) +
                       sizeof(((ge_backend_factory_t*)0)->capabilities),
               "factory: handover_step right after capabilities");
_Static_assert(sizeof(ge_backend_factory_t) ==
                   offsetof(ge_backend_factory_t, handover_step) +
                       sizeof(((ge_backend_factory_t*)0)->handover_step),
               "factory: handover_step is the last member");
_Static_assert(offsetof(ge_spawn_context_t, state_dir) > offsetof(ge_spawn_context_t, port),
               "spawn context: state_dir after port");
_Static_assert(GE_HANDOVER_SAVE == 0 && GE_HANDOVER_RESTORE == 1, "handover points are fixed");
_Static_assert(GE_BACKEND_NO_PROCESS == 1u, "capability flags are fixed once published");

static int failures = 0;

#define CHECK(condition)                                                                  \
    do {                                                                                  \
        if (!(condition)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            ++failures;                                                                   \
        }                                                                                 \
    } while (0)

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

int main(void) {
    /* GE_HAS_FIELD: a host built before find_program existed has a shorter struct. */
    ge_host_api_t host;
    ge_error error;
    memset(&host, 0, sizeof host);
    memset(&error, 0, sizeof error);
    host.struct_size = sizeof host;
    CHECK(init(&host, &error) == GE_OK);
    host.struct_size = (uint32_t)offsetof(ge_host_api_t, find_program);
    CHECK(!GE_HAS_FIELD(&host, ge_host_api_t, find_program));
    CHECK(GE_HAS_FIELD(&host, ge_host_api_t, get_extension));
    CHECK(init(&host, &error) == GE_ERR_INVALID);
    host.struct_size = (uint32_t)(offsetof(ge_host_api_t, find_program) + sizeof host.find_program);
    CHECK(GE_HAS_FIELD(&host, ge_host_api_t, find_program));
    CHECK(init(&host, &error) == GE_OK);

    /* The entry as the host's loader reads it. */
    CHECK(ge_plugin_entry.struct_size == sizeof(ge_plugin_entry_t));
    CHECK(GE_HAS_FIELD(&ge_plugin_entry, ge_plugin_entry_t, get_factory));
    CHECK(ge_plugin_entry.abi_major == 1);
    CHECK(strcmp(ge_plugin_entry.plugin_id, "abi_c") == 0);
    CHECK(ge_plugin_entry.get_factory(GE_BACKEND_FACTORY_ID) == NULL);
    ge_plugin_entry.deinit();

    /* The names a plugin and the host agree on. */
    CHECK(strcmp(GE_PLUGIN_ENTRY_SYMBOL, "ge_plugin_entry") == 0);
    CHECK(strcmp(GE_BACKEND_FACTORY_ID, "ge.backend/1") == 0);

    /* 1.3: a factory that ends before capabilities (1.0-1.2) has a process per load. */
    {
        ge_backend_factory_t factory;
        memset(&factory, 0, sizeof factory);
        factory.struct_size = (uint32_t)offsetof(ge_backend_factory_t, capabilities);
        CHECK(GE_HAS_FIELD(&factory, ge_backend_factory_t, generation_probe_request));
        CHECK(!GE_HAS_FIELD(&factory, ge_backend_factory_t, capabilities));
        factory.struct_size = (uint32_t)sizeof factory;
        CHECK(GE_HAS_FIELD(&factory, ge_backend_factory_t, capabilities));
        CHECK(factory.capabilities == NULL); /* zero-filled: NULL, no flags */
    }

    /* A zero-filled output struct reads as the defaults the ABI promises. */
    ge_exit_decision_t decision;
    memset(&decision, 0, sizeof decision);
    CHECK(decision.action == GE_EXIT_RESTART);
    CHECK(GE_PROBE_READY == 1 && GE_PROBE_FAILED == 2 && GE_EXIT_GIVE_UP == 1);

    if (failures) fprintf(stderr, "%d ABI check(s) failed\n", failures);
    return failures ? 1 : 0;
}
