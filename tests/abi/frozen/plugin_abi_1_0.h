/*
 * FROZEN: plugin_abi.h as it was at ABI 1.0 (git 54d709c, the last commit before 1.1), kept
 * byte for byte below this comment. Plugins built against it prove that a newer host still
 * loads and serves a 1.0 plugin. Never edit it: a change here would test a header that no
 * plugin was ever built with.
 */
/*
 * gradatum-engine plugin ABI — the only header a backend plugin needs.
 *
 * Plugins decide, the core acts. A backend plugin turns a model's config into a spawn
 * specification, says how to probe readiness and how to read the probe's answer, names the
 * passthrough target and decides what follows when the child exits. The core forks/execs, polls,
 * proxies, streams and kills.
 *
 * Rules of this ABI:
 *  - C11, stdint/stddef/stdbool only. No C++ exception may cross it: plugins catch everything.
 *  - A plugin exports exactly one symbol, `ge_plugin_entry` (a `ge_plugin_entry_t`).
 *  - Every struct that may grow starts with `struct_size`. Fields are only ever appended; a reader
 *    uses a field only when `struct_size` covers it (GE_HAS_FIELD). Structs a side passes in are
 *    filled by it with `struct_size` = the size it was compiled with. Output structs are
 *    zero-filled by the caller, which sets `struct_size` to its own size; the callee writes only
 *    the fields that `struct_size` covers, so fields it does not know stay 0/NULL.
 *  - Versions: a different GE_ABI_MAJOR is refused by the host; a newer minor only appends.
 *  - Nothing is freed across the boundary. Strings are NUL-terminated UTF-8.
 *    OWNERSHIP lines say who owns each pointer and for how long.
 *  - Threads: the host never calls into one instance from two threads at once. Different
 *    instances may be called concurrently. `init`/`deinit`/`get_factory` run on the host's main
 *    thread.
 *  - Naming: `ge_` types; members a plugin implements are plain verbs; host services in
 *    `ge_host_api_t` are called by the plugin.
 */
#ifndef GRADATUM_PLUGIN_ABI_H
#define GRADATUM_PLUGIN_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GE_ABI_MAJOR 1
#define GE_ABI_MINOR 0

/* Name of the one symbol every plugin exports. */
#define GE_PLUGIN_ENTRY_SYMBOL "ge_plugin_entry"
/* Factory id for backends; the suffix is the factory's revision. */
#define GE_BACKEND_FACTORY_ID "ge.backend/1"

/* True when a struct filled by the other side is large enough to contain `field`. */
#define GE_HAS_FIELD(ptr, type, field) \
    ((ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

typedef enum ge_status {
    GE_OK = 0,
    GE_ERR_CONFIG = 1,   /* the model's config is wrong; error.key names the key */
    GE_ERR_INVALID = 2,  /* the host passed something the plugin cannot use */
    GE_ERR_INTERNAL = 3, /* a bug or an unexpected failure inside the plugin */
} ge_status;

/* Filled by the plugin when a call fails. Owned by the caller (the host). */
typedef struct ge_error {
    char key[128];     /* config key relative to `models.<name>.`, or "" */
    char message[512]; /* what is wrong, for a human */
} ge_error;

typedef enum ge_log_level {
    GE_LOG_DEBUG = 0,
    GE_LOG_INFO = 1,
    GE_LOG_WARN = 2,
    GE_LOG_ERROR = 3,
} ge_log_level;

/* ---------------------------------------------------------------- host services */

/* Provided by the host to `init`. OWNERSHIP: host; valid until `deinit` returns. */
typedef struct ge_host_api {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    void* host_ctx; /* pass back as the first argument of every service */

    /* Writes one log line attributed to the plugin. Any thread. `message` is copied. */
    void (*log)(void* host_ctx, int32_t level, const char* message);

    /* Reads a raw (unexpanded) config value by its full key, e.g. "server.listen".
     * Copies at most `capacity` bytes including the NUL into `buffer`. Returns the value's length
     * (excluding the NUL; larger than capacity-1 means truncated), or -1 if the key is absent.
     * Any thread. */
    int64_t (*config_get)(void* host_ctx, const char* key, char* buffer, size_t capacity);

    /* Looks up an optional host extension by id ("name/revision"). NULL if not offered.
     * OWNERSHIP: host; valid until `deinit` returns. */
    const void* (*get_extension)(void* host_ctx, const char* id);

    /* Resolves a program name the way the core will exec it (a path, or a name on PATH).
     * Copies the absolute path into `buffer` like config_get. Returns its length, or -1 if no
     * executable file is found. Any thread. */
    int64_t (*find_program)(void* host_ctx, const char* program, char* buffer, size_t capacity);
} ge_host_api_t;

/* ---------------------------------------------------------------- backend instance data */

/* Opaque per-model state of a plugin. */
typedef struct ge_instance ge_instance;

/* Where the core wants the child to listen. Filled by the host. */
typedef struct ge_spawn_context {
    uint32_t struct_size;
    const char* host; /* e.g. "127.0.0.1" */
    uint16_t port;    /* a free port chosen by the core */
} ge_spawn_context_t;

/* How to start the child; the core execs it directly (no shell).
 * OWNERSHIP: plugin; valid until the next call on the same instance or `destroy`. */
typedef struct ge_spawn_spec {
    uint32_t struct_size;
    const char* program;     /* path, or a name looked up on PATH; required */
    const char* const* argv; /* argv[0..argc-1]; argv[0] is the program name */
    size_t argc;
    const char* const* env; /* "NAME=value" entries added to the host's environment */
    size_t envc;
    const char* workdir; /* NULL or "" = the host's working directory */
} ge_spawn_spec_t;

/* An HTTP request the core sends to check readiness and liveness.
 * OWNERSHIP: plugin; valid until the next call on the same instance or `destroy`. */
typedef struct ge_probe_request {
    uint32_t struct_size;
    const char* method; /* "GET" */
    const char* path;   /* "/health" */
} ge_probe_request_t;

typedef enum ge_probe_verdict {
    GE_PROBE_LOADING = 0, /* not ready yet; keep polling */
    GE_PROBE_READY = 1,
    GE_PROBE_FAILED = 2, /* will never become ready; the core stops the child */
} ge_probe_verdict;

/* The probe's answer. status 0 means no HTTP answer (refused, reset, timed out).
 * OWNERSHIP: host; valid for the duration of the call. */
typedef struct ge_probe_result {
    uint32_t struct_size;
    int32_t status;
    const char* body; /* may contain NULs; use body_len */
    size_t body_len;
} ge_probe_result_t;

/* An extra header the core adds to every request it forwards. */
typedef struct ge_header {
    const char* name;
    const char* value;
} ge_header_t;

/* Where the core forwards requests.
 * OWNERSHIP: plugin; valid until the next call on the same instance or `destroy`. */
typedef struct ge_target {
    uint32_t struct_size;
    const char* host;
    uint16_t port;
    const ge_header_t* headers;
    size_t header_count;
} ge_target_t;

/* What the core knows when a child has exited. OWNERSHIP: host; valid for the call. */
typedef struct ge_exit_info {
    uint32_t struct_size;
    int32_t exit_code;       /* -1 if killed by a signal */
    int32_t signal;          /* 0 if it exited normally */
    bool was_ready;          /* it passed the readiness probe at least once */
    bool stopped_by_core;    /* the core stopped it (liveness failure, load timeout) */
    uint64_t uptime_ms;      /* from spawn to exit */
    uint64_t ready_ms;       /* time spent ready (0 if never ready) */
    uint64_t now_ms;         /* monotonic clock, for budgets */
    const char* stderr_tail; /* the last lines the child wrote to stderr */
    const char* core_reason; /* why the core stopped it, or "" */
} ge_exit_info_t;

typedef enum ge_exit_action {
    GE_EXIT_RESTART = 0, /* start again after delay_ms */
    GE_EXIT_GIVE_UP = 1, /* the model is failed until the engine restarts */
} ge_exit_action;

/* The plugin's decision. OWNERSHIP: host (caller-allocated); the plugin fills it. */
typedef struct ge_exit_decision {
    uint32_t struct_size;
    int32_t action; /* ge_exit_action */
    uint32_t delay_ms;
    char reason[256]; /* e.g. "exited with code 1: failed to load model" */
} ge_exit_decision_t;

/* ---------------------------------------------------------------- backend factory */

/* Returned by get_factory(GE_BACKEND_FACTORY_ID). OWNERSHIP: plugin; static. */
typedef struct ge_backend_factory {
    uint32_t struct_size;

    /* Validates a model's config and creates its instance.
     * `config_json`: a JSON object mapping every key under `models.<name>.` that the core does
     * not consume itself (e.g. "llama_server.model", "restart.window") to its raw string value.
     * Unknown or invalid keys fail with GE_ERR_CONFIG and error->key set.
     * OWNERSHIP: `*out` belongs to the host until passed to `destroy`. */
    int32_t (*create)(const char* model_name, const char* config_json, ge_instance** out,
                      ge_error* error);
    void (*destroy)(ge_instance* instance);

    int32_t (*spawn_spec)(ge_instance* instance, const ge_spawn_context_t* context,
                          ge_spawn_spec_t* out, ge_error* error);
    int32_t (*probe_request)(ge_instance* instance, ge_probe_request_t* out, ge_error* error);
    /* Returns a ge_probe_verdict. */
    int32_t (*probe_verdict)(ge_instance* instance, const ge_probe_result_t* result);
    int32_t (*target)(ge_instance* instance, const ge_spawn_context_t* context, ge_target_t* out,
                      ge_error* error);
    /* Called once per child exit; the plugin keeps its own restart budget. */
    int32_t (*on_exit)(ge_instance* instance, const ge_exit_info_t* info, ge_exit_decision_t* out);
} ge_backend_factory_t;

/* ---------------------------------------------------------------- entry point */

typedef struct ge_plugin_entry {
    uint32_t struct_size;
    uint16_t abi_major; /* GE_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;
    const char* plugin_id;      /* the `backend` value in config, e.g. "llama_server" */
    const char* plugin_version; /* e.g. "0.1.0" */

    /* Called once after loading. OWNERSHIP: `host` stays valid until `deinit` returns. */
    int32_t (*init)(const ge_host_api_t* host, ge_error* error);
    /* Called once before the host forgets the plugin; no instance is alive then. */
    void (*deinit)(void);
    /* Returns the factory for `factory_id`, or NULL if the plugin has none of that id. */
    const void* (*get_factory)(const char* factory_id);
} ge_plugin_entry_t;

#ifdef __cplusplus
}
#endif

#endif /* GRADATUM_PLUGIN_ABI_H */
