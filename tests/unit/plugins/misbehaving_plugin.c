/*
 * A backend plugin that misbehaves on request, for the isolation tests: it crashes (a real
 * SIGSEGV, at an unmapped address the compiler cannot see) or sleeps in the callback its config
 * names. Otherwise it runs misbehave.binary with misbehave.args and --host/--port, like the
 * example plugin. Keys (all optional):
 *   misbehave.crash_in  = create | spawn_spec | target | probe_request | probe_verdict | on_exit
 *   misbehave.sleep_in  = the same names;  misbehave.sleep_ms = how long (default 1500)
 *   misbehave.binary    = the program (default /bin/true);  misbehave.args = its arguments
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gradatum/plugin_abi.h"
#include "gradatum/plugin_helpers.h"

#define TEXT_SIZE 1024
#define MAX_WORDS 32

struct ge_instance {
    char crash_in[64];
    char sleep_in[64];
    long sleep_ms;
    char binary[TEXT_SIZE];
    char args[TEXT_SIZE];
    const char* argv[MAX_WORDS + 5];
    size_t argc;
    size_t word_count;
    char host[64];
    char port[8];
};

static void misbehave(const ge_instance* self, const char* callback) {
    if (strcmp(self->crash_in, callback) == 0) {
        /* A real fault at an unmapped address: not NULL, which UBSan would catch first, and
         * volatile, so the compiler cannot turn it into a trap instruction. */
        volatile uintptr_t nowhere = 16;
        *(volatile int*)nowhere = 1;
    }
    if (strcmp(self->sleep_in, callback) == 0) {
        struct timespec wait = {self->sleep_ms / 1000, (self->sleep_ms % 1000) * 1000000L};
        while (nanosleep(&wait, &wait) != 0) {
        }
    }
}

static int32_t misbehaving_create(const char* model_name, const char* config_json,
                                  ge_instance** out, ge_error* error) {
    ge_config_cursor cursor = GE_CONFIG_CURSOR(config_json);
    char key[128];
    char value[TEXT_SIZE];
    int result;
    ge_instance* self = calloc(1, sizeof *self);
    (void)model_name;
    if (!self) return ge_set_error(error, GE_ERR_INTERNAL, NULL, "out of memory");
    self->sleep_ms = 1500;
    strcpy(self->binary, "/bin/true");
    while ((result = ge_config_next(&cursor, key, sizeof key, value, sizeof value)) ==
           GE_CONFIG_PAIR) {
        if (strcmp(key, "misbehave.crash_in") == 0 && strlen(value) < sizeof self->crash_in) {
            strcpy(self->crash_in, value);
        } else if (strcmp(key, "misbehave.sleep_in") == 0 &&
                   strlen(value) < sizeof self->sleep_in) {
            strcpy(self->sleep_in, value);
        } else if (strcmp(key, "misbehave.sleep_ms") == 0) {
            self->sleep_ms = atol(value);
        } else if (strcmp(key, "misbehave.binary") == 0) {
            strcpy(self->binary, value);
        } else if (strcmp(key, "misbehave.args") == 0) {
            char* word;
            strcpy(self->args, value);
            for (word = strtok(self->args, " "); word && self->word_count < MAX_WORDS;
                 word = strtok(NULL, " "))
                self->argv[1 + self->word_count++] = word;
        } else {
            free(self);
            return ge_set_error(error, GE_ERR_CONFIG, key, "unknown key");
        }
    }
    if (result != GE_CONFIG_END) {
        free(self);
        return ge_set_error(error, GE_ERR_INVALID, NULL, "bad config JSON (%d)", result);
    }
    misbehave(self, "create");
    *out = self;
    return GE_OK;
}

static void misbehaving_destroy(ge_instance* self) {
    free(self);
}

static int32_t misbehaving_spawn_spec(ge_instance* self, const ge_spawn_context_t* context,
                                      ge_spawn_spec_t* out, ge_error* error) {
    size_t argc = 1 + self->word_count;
    (void)error;
    misbehave(self, "spawn_spec");
    strncpy(self->host, context->host, sizeof self->host - 1);
    snprintf(self->port, sizeof self->port, "%u", (unsigned)context->port);
    self->argv[0] = self->binary;
    self->argv[argc++] = "--host";
    self->argv[argc++] = self->host;
    self->argv[argc++] = "--port";
    self->argv[argc++] = self->port;
    out->program = self->binary;
    out->argv = self->argv;
    out->argc = argc;
    return GE_OK;
}

static int32_t misbehaving_target(ge_instance* self, const ge_spawn_context_t* context,
                                  ge_target_t* out, ge_error* error) {
    (void)error;
    misbehave(self, "target");
    out->host = self->host;
    out->port = context->port;
    return GE_OK;
}

static int32_t misbehaving_probe_request(ge_instance* self, ge_probe_request_t* out,
                                         ge_error* error) {
    (void)error;
    misbehave(self, "probe_request");
    out->method = "GET";
    out->path = "/health";
    return GE_OK;
}

static int32_t misbehaving_probe_verdict(ge_instance* self, const ge_probe_result_t* result) {
    misbehave(self, "probe_verdict");
    return result->status == 200 ? GE_PROBE_READY : GE_PROBE_LOADING;
}

static int32_t misbehaving_on_exit(ge_instance* self, const ge_exit_info_t* info,
                                   ge_exit_decision_t* out) {
    (void)info;
    misbehave(self, "on_exit");
    out->action = GE_EXIT_GIVE_UP;
    snprintf(out->reason, sizeof out->reason, "test_misbehaving gives up");
    return GE_OK;
}

static const ge_backend_factory_t g_factory = {
    .struct_size = sizeof(ge_backend_factory_t),
    .create = misbehaving_create,
    .destroy = misbehaving_destroy,
    .spawn_spec = misbehaving_spawn_spec,
    .probe_request = misbehaving_probe_request,
    .probe_verdict = misbehaving_probe_verdict,
    .target = misbehaving_target,
    .on_exit = misbehaving_on_exit,
};

static int32_t misbehaving_init(const ge_host_api_t* host, ge_error* error) {
    (void)host;
    (void)error;
    return GE_OK;
}

static const void* misbehaving_get_factory(const char* factory_id) {
    return strcmp(factory_id, GE_BACKEND_FACTORY_ID) == 0 ? &g_factory : NULL;
}

GE_PLUGIN_EXPORT const ge_plugin_entry_t ge_plugin_entry = {
    .struct_size = sizeof(ge_plugin_entry_t),
    .abi_major = GE_ABI_MAJOR,
    .abi_minor = GE_ABI_MINOR,
    .plugin_id = "test_misbehaving",
    .plugin_version = "9.8.7",
    .init = misbehaving_init,
    .deinit = NULL,
    .get_factory = misbehaving_get_factory,
};
