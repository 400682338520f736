/*
 * A minimal plugin for the loader tests. One source, several builds: the compile definitions
 * below turn it into the variants the registry must accept or refuse.
 *   TEST_ABI_MAJOR / TEST_ABI_MINOR  ABI version claimed in the entry (default: this header's)
 *   TEST_PLUGIN_ID                   plugin id (default "test_good")
 *   TEST_INIT_FAILS                  init returns GE_ERR_CONFIG with a message
 *   TEST_SMALL_FACTORY               offers a backend factory whose struct_size ends before on_exit
 *   TEST_UNDEFINED_SYMBOL            init calls a function no library defines
 *   TEST_BACKEND                     offers a working backend factory: a 1.2 one whose
 *                                    generation_probe_request is NULL, or with TEST_FACTORY_V11
 *                                    a 1.1 one (struct_size ends before generation_probe_request,
 *                                    whose slot holds a function that aborts: a host that reads
 *                                    past struct_size and calls it dies)
 *   TEST_FACTORY_V12                 with TEST_BACKEND: a 1.2 factory (struct_size ends before
 *                                    capabilities, whose slot holds a function that aborts)
 *   TEST_CAPABILITIES=<flags>        with TEST_BACKEND: capabilities returns these flags
 */
#include <stdio.h>
#include <string.h>

#include "gradatum/plugin_abi.h"

#ifndef TEST_ABI_MAJOR
#define TEST_ABI_MAJOR GE_ABI_MAJOR
#endif
#ifndef TEST_ABI_MINOR
#define TEST_ABI_MINOR GE_ABI_MINOR
#endif
#ifndef TEST_PLUGIN_ID
#define TEST_PLUGIN_ID "test_good"
#endif

/* Factory id through which the tests reach the host API this plugin was given. */
#define TEST_HOST_FACTORY_ID "test.host/1"

static const ge_host_api_t* g_host = NULL;

#ifdef TEST_SMALL_FACTORY
/* Claims to end right before on_exit: an older factory than the engine needs. */
static const ge_backend_factory_t g_small_factory = {offsetof(ge_backend_factory_t, on_exit),
                                                     NULL,
                                                     NULL,
                                                     NULL,
                                                     NULL,
                                                     NULL,
                                                     NULL,
                                                     NULL,
                                                     NULL,
                                                     NULL,
                                                     NULL};
#endif

#ifdef TEST_BACKEND
#include <stdlib.h>

/* One instance for every model: the tests only look at what the host makes of the answers. */
static int g_instance_storage;

static int32_t backend_create(const char* model_name, const char* config_json, ge_instance** out,
                              ge_error* error) {
    (void)model_name;
    (void)config_json;
    (void)error;
    *out = (ge_instance*)&g_instance_storage;
    return GE_OK;
}

static void backend_destroy(ge_instance* instance) {
    (void)instance;
}

static int32_t backend_spawn_spec(ge_instance* instance, const ge_spawn_context_t* context,
                                  ge_spawn_spec_t* out, ge_error* error) {
    (void)instance;
    (void)context;
    (void)error;
    out->program = "/bin/true";
    return GE_OK;
}

static int32_t backend_probe_request(ge_instance* instance, ge_probe_request_t* out,
                                     ge_error* error) {
    (void)instance;
    (void)error;
    out->method = "GET";
    out->path = "/ready";
    return GE_OK;
}

static int32_t backend_probe_verdict(ge_instance* instance, const ge_probe_result_t* result) {
    (void)instance;
    return result->status == 200 ? GE_PROBE_READY : GE_PROBE_LOADING;
}

static int32_t backend_target(ge_instance* instance, const ge_spawn_context_t* context,
                              ge_target_t* out, ge_error* error) {
    (void)instance;
    (void)error;
    out->host = context->host;
    out->port = context->port;
    return GE_OK;
}

static int32_t backend_on_exit(ge_instance* instance, const ge_exit_info_t* info,
                               ge_exit_decision_t* out) {
    (void)instance;
    (void)info;
    out->action = GE_EXIT_GIVE_UP;
    return GE_OK;
}

#ifdef TEST_FACTORY_V11
/* Never called: a 1.1 factory does not have this member. */
static int32_t backend_poisoned_probe(ge_instance* instance, ge_probe_request_t* out,
                                      ge_error* error) {
    (void)instance;
    (void)out;
    (void)error;
    abort();
}
#define TEST_FACTORY_SIZE offsetof(ge_backend_factory_t, generation_probe_request)
#define TEST_GENERATION_PROBE backend_poisoned_probe
#elif defined(TEST_FACTORY_V12)
#define TEST_FACTORY_SIZE offsetof(ge_backend_factory_t, capabilities)
#define TEST_GENERATION_PROBE NULL
#else
#define TEST_FACTORY_SIZE sizeof(ge_backend_factory_t)
#define TEST_GENERATION_PROBE NULL
#endif

#if defined(TEST_FACTORY_V11) || defined(TEST_FACTORY_V12)
/* Never called: the factory's struct_size ends before the member that holds it. */
static uint32_t backend_poisoned_capabilities(ge_instance* instance) {
    (void)instance;
    abort();
}
#define TEST_CAPABILITIES_FUNCTION backend_poisoned_capabilities
#elif defined(TEST_CAPABILITIES)
static uint32_t backend_capabilities(ge_instance* instance) {
    (void)instance;
    return TEST_CAPABILITIES;
}
#define TEST_CAPABILITIES_FUNCTION backend_capabilities
#else
#define TEST_CAPABILITIES_FUNCTION NULL
#endif

static const ge_backend_factory_t g_backend = {TEST_FACTORY_SIZE,
                                               backend_create,
                                               backend_destroy,
                                               backend_spawn_spec,
                                               backend_probe_request,
                                               backend_probe_verdict,
                                               backend_target,
                                               backend_on_exit,
                                               TEST_GENERATION_PROBE,
                                               TEST_CAPABILITIES_FUNCTION,
                                               NULL};
#endif

#ifdef TEST_UNDEFINED_SYMBOL
/* Left undefined on purpose: the module links (undefined symbols are allowed in a shared
 * object) but cannot be bound, as when a plugin was built against a library that is missing. */
void ge_test_missing_function(void);
#endif

static int32_t test_init(const ge_host_api_t* host, ge_error* error) {
#ifdef TEST_UNDEFINED_SYMBOL
    ge_test_missing_function();
#endif
#ifdef TEST_INIT_FAILS
    (void)host;
    snprintf(error->message, sizeof error->message, "%s", "test plugin refuses to start");
    return GE_ERR_CONFIG;
#else
    (void)error;
    g_host = host;
    return GE_OK;
#endif
}

static void test_deinit(void) {
    g_host = NULL;
}

static const void* test_get_factory(const char* factory_id) {
    if (factory_id && strcmp(factory_id, TEST_HOST_FACTORY_ID) == 0) return &g_host;
#ifdef TEST_SMALL_FACTORY
    if (factory_id && strcmp(factory_id, GE_BACKEND_FACTORY_ID) == 0) return &g_small_factory;
#endif
#ifdef TEST_BACKEND
    if (factory_id && strcmp(factory_id, GE_BACKEND_FACTORY_ID) == 0) return &g_backend;
#endif
    return NULL;
}

__attribute__((visibility("default")))
const ge_plugin_entry_t ge_plugin_entry = {sizeof(ge_plugin_entry_t),
                                           TEST_ABI_MAJOR,
                                           TEST_ABI_MINOR,
                                           TEST_PLUGIN_ID,
                                           "9.8.7",
                                           test_init,
                                           test_deinit,
                                           test_get_factory};
