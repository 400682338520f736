/*
 * A minimal plugin for the loader tests. One source, several builds: the compile definitions
 * below turn it into the variants the registry must accept or refuse.
 *   TEST_ABI_MAJOR / TEST_ABI_MINOR  ABI version claimed in the entry (default: this header's)
 *   TEST_PLUGIN_ID                   plugin id (default "test_good")
 *   TEST_INIT_FAILS                  init returns GE_ERR_CONFIG with a message
 *   TEST_SMALL_FACTORY               offers a backend factory whose struct_size ends before on_exit
 *   TEST_UNDEFINED_SYMBOL            init calls a function no library defines
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
static const ge_backend_factory_t g_small_factory = {
    offsetof(ge_backend_factory_t, on_exit), NULL, NULL, NULL, NULL, NULL, NULL, NULL};
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
