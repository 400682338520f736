/*
 * A backend plugin built against the FROZEN ABI 1.0 header (tests/abi/frozen/plugin_abi_1_0.h)
 * and nothing newer: its structs are the 1.0 ones, shorter than the host's. It proves that the
 * host still loads and serves with a 1.0 plugin. It reads its settings through the 1.0 host
 * service config_get rather than the config JSON:
 *   models.<name>.old.binary  the program (a llama-server-like server)
 *   models.<name>.old.model   passed as --model
 * and spawns `binary --model M --host H --port P`, ready on GET /health answering 200.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_abi_1_0.h"

#if GE_ABI_MAJOR != 1 || GE_ABI_MINOR != 0
#error "this plugin must be built against the frozen 1.0 header"
#endif

#define TEXT_SIZE 1024

static const ge_host_api_t* g_host = NULL;

struct ge_instance {
    char binary[TEXT_SIZE];
    char model[TEXT_SIZE];
    char host[64];
    char port[8];
    const char* argv[7];
};

/* The host's structs are at least as large as this plugin's (it never offers less than 1.0). */
#define FROM_HOST_OK(ptr) ((ptr)->struct_size >= sizeof *(ptr))

static int32_t fail(ge_error* error, int32_t status, const char* key, const char* message) {
    snprintf(error->key, sizeof error->key, "%s", key);
    snprintf(error->message, sizeof error->message, "%s", message);
    return status;
}

static int read_setting(const char* model_name, const char* key, char* buffer, size_t size) {
    char full[256];
    int64_t n;
    snprintf(full, sizeof full, "models.%s.%s", model_name, key);
    n = g_host->config_get(g_host->host_ctx, full, buffer, size);
    return n >= 0 && (size_t)n < size;
}

static int32_t old_create(const char* model_name, const char* config_json, ge_instance** out,
                          ge_error* error) {
    ge_instance* self = calloc(1, sizeof *self);
    (void)config_json;
    if (!self) return fail(error, GE_ERR_INTERNAL, "", "out of memory");
    if (!read_setting(model_name, "old.binary", self->binary, sizeof self->binary)) {
        free(self);
        return fail(error, GE_ERR_CONFIG, "old.binary", "missing");
    }
    if (!read_setting(model_name, "old.model", self->model, sizeof self->model)) {
        free(self);
        return fail(error, GE_ERR_CONFIG, "old.model", "missing");
    }
    *out = self;
    return GE_OK;
}

static void old_destroy(ge_instance* self) {
    free(self);
}

static int32_t old_spawn_spec(ge_instance* self, const ge_spawn_context_t* context,
                              ge_spawn_spec_t* out, ge_error* error) {
    if (!FROM_HOST_OK(context) || !FROM_HOST_OK(out))
        return fail(error, GE_ERR_INVALID, "", "host struct smaller than ABI 1.0");
    snprintf(self->host, sizeof self->host, "%s", context->host);
    snprintf(self->port, sizeof self->port, "%u", (unsigned)context->port);
    self->argv[0] = self->binary;
    self->argv[1] = "--model";
    self->argv[2] = self->model;
    self->argv[3] = "--host";
    self->argv[4] = self->host;
    self->argv[5] = "--port";
    self->argv[6] = self->port;
    out->program = self->binary;
    out->argv = self->argv;
    out->argc = 7;
    return GE_OK;
}

static int32_t old_probe_request(ge_instance* self, ge_probe_request_t* out, ge_error* error) {
    (void)self;
    if (!FROM_HOST_OK(out)) return fail(error, GE_ERR_INVALID, "", "probe struct too small");
    out->method = "GET";
    out->path = "/health";
    return GE_OK;
}

static int32_t old_probe_verdict(ge_instance* self, const ge_probe_result_t* result) {
    (void)self;
    if (!FROM_HOST_OK(result)) return GE_PROBE_FAILED;
    return result->status == 200 ? GE_PROBE_READY : GE_PROBE_LOADING;
}

static int32_t old_target(ge_instance* self, const ge_spawn_context_t* context, ge_target_t* out,
                          ge_error* error) {
    if (!FROM_HOST_OK(out)) return fail(error, GE_ERR_INVALID, "", "target struct too small");
    out->host = self->host;
    out->port = context->port;
    return GE_OK;
}

static int32_t old_on_exit(ge_instance* self, const ge_exit_info_t* info, ge_exit_decision_t* out) {
    (void)self;
    if (!FROM_HOST_OK(info) || !FROM_HOST_OK(out)) return GE_ERR_INVALID;
    out->action = GE_EXIT_GIVE_UP;
    snprintf(out->reason, sizeof out->reason, "1.0 plugin: exit code %d, signal %d, %s",
             (int)info->exit_code, (int)info->signal,
             info->was_ready ? "was ready" : "never ready");
    return GE_OK;
}

/* A 1.0 factory: it ends at on_exit. */
static const ge_backend_factory_t g_factory = {sizeof(ge_backend_factory_t),
                                               old_create,
                                               old_destroy,
                                               old_spawn_spec,
                                               old_probe_request,
                                               old_probe_verdict,
                                               old_target,
                                               old_on_exit};

static int32_t old_init(const ge_host_api_t* host, ge_error* error) {
    if (!FROM_HOST_OK(host)) return fail(error, GE_ERR_INVALID, "", "host API smaller than 1.0");
    g_host = host;
    return GE_OK;
}

static void old_deinit(void) {
    g_host = NULL;
}

static const void* old_get_factory(const char* factory_id) {
    return strcmp(factory_id, GE_BACKEND_FACTORY_ID) == 0 ? &g_factory : NULL;
}

__attribute__((visibility("default")))
const ge_plugin_entry_t ge_plugin_entry = {sizeof(ge_plugin_entry_t),
                                           GE_ABI_MAJOR,
                                           GE_ABI_MINOR,
                                           "test_abi_1_0",
                                           "1.0.0",
                                           old_init,
                                           old_deinit,
                                           old_get_factory};
