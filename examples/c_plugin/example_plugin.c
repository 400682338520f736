/*
 * example: a gradatum-engine backend plugin in plain C11, built against the installed SDK only
 * (docs/PLUGINS.md, "Writing a backend plugin", walks through it). It runs one program per
 * model that speaks llama-server's HTTP API (llama-server itself, or anything with GET /health):
 *
 *   models.chat.backend = example
 *   models.chat.example.binary = llama-server               (required: a path or a name on PATH)
 *   models.chat.example.args = -m /srv/models/q.gguf -c 4096 (optional: split on spaces)
 *   models.chat.example.max_restarts = 3                    (optional: failed starts in a row)
 *
 * The program gets `--host H --port P` after its args, is ready when GET /health answers 200,
 * and is restarted after an exit (1 s, 2 s, 4 s, ...) until it has failed max_restarts + 1
 * times in a row; a run that stayed ready for a minute resets the count.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gradatum/plugin_abi.h>
#include <gradatum/plugin_helpers.h>

#define EXAMPLE_ID "example"
#define EXAMPLE_VERSION "0.1.0"
#define EXAMPLE_MAX_ARGS 64
#define EXAMPLE_TEXT_SIZE 4096
#define EXAMPLE_STABLE_MS 60000 /* ready this long: the run counts as a success */

/* The host services, from init until deinit. Written once on the host's main thread before any
 * instance exists, only read afterwards. */
static const ge_host_api_t* g_host = NULL;

/* One model's state. Everything a callback hands back to the host points in here, so it stays
 * valid until the next call on this instance (the ABI's ownership rule). */
struct ge_instance {
    char model[128];
    char binary[EXAMPLE_TEXT_SIZE]; /* absolute path, resolved by the host's find_program */
    char args[EXAMPLE_TEXT_SIZE];   /* example.args, its words NUL-separated in place */
    const char* words[EXAMPLE_MAX_ARGS];
    size_t word_count;
    long max_restarts;
    long failures; /* failed runs in a row */
    /* spawn_spec's answer */
    char host[64];
    char port[8];
    const char* argv[EXAMPLE_MAX_ARGS + 5];
};

static void example_log(int32_t level, const char* format, const char* a, const char* b) {
    char line[512];
    snprintf(line, sizeof line, format, a, b);
    g_host->log(g_host->host_ctx, level, line);
}

/* ---------------------------------------------------------------- config */

/* Splits `text` on spaces and tabs, in place. Returns 0, or -1 when there are too many words. */
static int split_words(char* text, const char** words, size_t* count) {
    char* p = text;
    *count = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t') *p++ = '\0';
        if (!*p) return 0;
        if (*count == EXAMPLE_MAX_ARGS) return -1;
        words[(*count)++] = p;
        while (*p && *p != ' ' && *p != '\t') ++p;
    }
}

static int32_t read_config(ge_instance* self, const char* config_json, ge_error* error) {
    ge_config_cursor cursor = GE_CONFIG_CURSOR(config_json);
    char key[128];
    char value[EXAMPLE_TEXT_SIZE];
    int got_binary = 0;
    int result;
    while ((result = ge_config_next(&cursor, key, sizeof key, value, sizeof value)) ==
           GE_CONFIG_PAIR) {
        if (strcmp(key, "example.binary") == 0) {
            /* Resolved now, the way the core will exec it: a typo fails at startup and in
             * --check, naming the key, instead of at the first spawn. */
            int64_t n =
                g_host->find_program(g_host->host_ctx, value, self->binary, sizeof self->binary);
            if (n < 0)
                return ge_set_error(error, GE_ERR_CONFIG, key,
                                    "'%s' is not an executable file (nor a program on PATH)",
                                    value);
            if ((size_t)n >= sizeof self->binary)
                return ge_set_error(error, GE_ERR_CONFIG, key, "path too long");
            got_binary = 1;
        } else if (strcmp(key, "example.args") == 0) {
            memcpy(self->args, value, strlen(value) + 1);
            if (split_words(self->args, self->words, &self->word_count) != 0)
                return ge_set_error(error, GE_ERR_CONFIG, key, "more than %d arguments",
                                    EXAMPLE_MAX_ARGS);
        } else if (strcmp(key, "example.max_restarts") == 0) {
            char* end = NULL;
            errno = 0;
            self->max_restarts = strtol(value, &end, 10);
            if (errno || end == value || *end || self->max_restarts < 0 || self->max_restarts > 100)
                return ge_set_error(error, GE_ERR_CONFIG, key,
                                    "'%s' is not a whole number from 0 to 100", value);
        } else {
            return ge_set_error(error, GE_ERR_CONFIG, key,
                                "unknown key (known: example.binary, example.args, "
                                "example.max_restarts)");
        }
    }
    if (result == GE_CONFIG_TOO_LONG)
        return ge_set_error(error, GE_ERR_CONFIG, key, "longer than %d bytes",
                            EXAMPLE_TEXT_SIZE - 1);
    if (result != GE_CONFIG_END)
        return ge_set_error(error, GE_ERR_INVALID, NULL, "the host passed malformed config JSON");
    if (!got_binary)
        return ge_set_error(error, GE_ERR_CONFIG, "example.binary",
                            "missing (the program to run, e.g. llama-server)");
    return GE_OK;
}

/* ---------------------------------------------------------------- the backend factory */

static int32_t example_create(const char* model_name, const char* config_json, ge_instance** out,
                              ge_error* error) {
    ge_instance* self = calloc(1, sizeof *self);
    int32_t status;
    if (!self) return ge_set_error(error, GE_ERR_INTERNAL, NULL, "out of memory");
    snprintf(self->model, sizeof self->model, "%s", model_name);
    self->max_restarts = 3;
    status = read_config(self, config_json, error);
    if (status != GE_OK) {
        free(self);
        return status;
    }
    example_log(GE_LOG_INFO, "model %s runs %s", self->model, self->binary);
    *out = self;
    return GE_OK;
}

static void example_destroy(ge_instance* self) {
    free(self);
}

static int32_t example_spawn_spec(ge_instance* self, const ge_spawn_context_t* context,
                                  ge_spawn_spec_t* out, ge_error* error) {
    size_t argc = 0;
    size_t i;
    /* context->host is the host's, valid only during this call: keep a copy. */
    if (strlen(context->host) >= sizeof self->host)
        return ge_set_error(error, GE_ERR_INVALID, NULL, "host address too long");
    snprintf(self->host, sizeof self->host, "%s", context->host);
    snprintf(self->port, sizeof self->port, "%u", (unsigned)context->port);
    self->argv[argc++] = self->binary;
    for (i = 0; i < self->word_count; ++i) self->argv[argc++] = self->words[i];
    self->argv[argc++] = "--host";
    self->argv[argc++] = self->host;
    self->argv[argc++] = "--port";
    self->argv[argc++] = self->port;
    out->program = self->binary;
    out->argv = self->argv;
    out->argc = argc;
    /* env, envc and workdir stay as the host zero-filled them: no extra variables, the
     * engine's working directory. */
    return GE_OK;
}

static int32_t example_target(ge_instance* self, const ge_spawn_context_t* context,
                              ge_target_t* out, ge_error* error) {
    (void)error;
    /* The same context spawn_spec just got; its host string is the host's, so point at our
     * copy instead. */
    out->host = self->host;
    out->port = context->port;
    return GE_OK; /* no headers: this child needs no key */
}

static int32_t example_probe_request(ge_instance* self, ge_probe_request_t* out, ge_error* error) {
    (void)self;
    (void)error;
    out->method = "GET"; /* string literals: static, so valid for as long as needed */
    out->path = "/health";
    return GE_OK;
}

static int32_t example_generation_probe_request(ge_instance* self, ge_probe_request_t* out,
                                                ge_error* error) {
    static const char body[] = "{\"prompt\":\"Hello\",\"n_predict\":1,\"cache_prompt\":false}";
    (void)self;
    /* body and content_type are ABI 1.2: write them only into a struct that has them. (A host
     * that calls this function knows 1.2, but the check costs nothing and is the rule.) */
    if (!GE_HAS_FIELD(out, ge_probe_request_t, content_type))
        return ge_set_error(error, GE_ERR_INVALID, NULL,
                            "the host's probe has no body (ABI < 1.2)");
    out->method = "POST";
    out->path = "/completion";
    out->body = body;
    out->body_len = sizeof body - 1;
    out->content_type = "application/json";
    return GE_OK;
}

static int32_t example_probe_verdict(ge_instance* self, const ge_probe_result_t* result) {
    (void)self;
    if (result->status == 200) return GE_PROBE_READY;
    if (result->status == 0 || result->status == 503) return GE_PROBE_LOADING; /* still loading */
    return GE_PROBE_FAILED; /* 404 and the like: this program is not what we expected */
}

static int32_t example_on_exit(ge_instance* self, const ge_exit_info_t* info,
                               ge_exit_decision_t* out) {
    char what[160];
    if (info->signal)
        snprintf(what, sizeof what, "killed by signal %d", (int)info->signal);
    else
        snprintf(what, sizeof what, "exited with code %d", (int)info->exit_code);
    if (info->core_reason && *info->core_reason)
        snprintf(what, sizeof what, "%s", info->core_reason);

    /* exec_failed is ABI 1.1: read it only when the host's struct has it. */
    if (GE_HAS_FIELD(info, ge_exit_info_t, exec_failed) && info->exec_failed) {
        out->action = GE_EXIT_GIVE_UP;
        snprintf(out->reason, sizeof out->reason, "%s; not restarting", what);
        return GE_OK;
    }
    if (info->was_ready && info->ready_ms >= EXAMPLE_STABLE_MS) self->failures = 0;
    if (self->failures >= self->max_restarts) {
        out->action = GE_EXIT_GIVE_UP;
        snprintf(out->reason, sizeof out->reason, "%s; giving up after %ld restart(s) in a row",
                 what, self->failures);
        return GE_OK;
    }
    out->action = GE_EXIT_RESTART;
    out->delay_ms = 1000u << (self->failures < 5 ? self->failures : 5); /* 1 s ... 32 s */
    snprintf(out->reason, sizeof out->reason, "%s", what);
    ++self->failures;
    return GE_OK;
}

static const ge_backend_factory_t g_factory = {
    .struct_size = sizeof(ge_backend_factory_t),
    .create = example_create,
    .destroy = example_destroy,
    .spawn_spec = example_spawn_spec,
    .probe_request = example_probe_request,
    .probe_verdict = example_probe_verdict,
    .target = example_target,
    .on_exit = example_on_exit,
    .generation_probe_request = example_generation_probe_request,
};

/* ---------------------------------------------------------------- the entry */

static int32_t example_init(const ge_host_api_t* host, ge_error* error) {
    /* find_program is in every 1.x host, but a plugin checks what it uses. */
    if (!GE_HAS_FIELD(host, ge_host_api_t, find_program))
        return ge_set_error(error, GE_ERR_INVALID, NULL, "host API too old (no find_program)");
    g_host = host;
    return GE_OK;
}

static void example_deinit(void) {
    g_host = NULL;
}

static const void* example_get_factory(const char* factory_id) {
    return strcmp(factory_id, GE_BACKEND_FACTORY_ID) == 0 ? &g_factory : NULL;
}

GE_PLUGIN_EXPORT const ge_plugin_entry_t ge_plugin_entry = {
    .struct_size = sizeof(ge_plugin_entry_t),
    .abi_major = GE_ABI_MAJOR,
    .abi_minor = GE_ABI_MINOR,
    .plugin_id = EXAMPLE_ID,
    .plugin_version = EXAMPLE_VERSION,
    .init = example_init,
    .deinit = example_deinit,
    .get_factory = example_get_factory,
};
