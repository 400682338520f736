/*
 * gradatum-engine plugin ABI — the only header a backend plugin needs.
 *
 * Plugins decide, the core acts. A backend plugin turns a model's config into a spawn
 * specification, says how to probe readiness and how to read the probe's answer, names the
 * passthrough target and decides what follows when the child exits. The core forks/execs, polls,
 * proxies, streams and kills. Since ABI 1.3 a backend may also have no child at all
 * (GE_BACKEND_NO_PROCESS): a server elsewhere that the core only probes and forwards to.
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
#define GE_ABI_MINOR 4

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

/* Where the core wants the child to listen. Filled by the host.
 * For a GE_BACKEND_NO_PROCESS instance there is no child: `target` gets host "" and port 0, and
 * names the server itself. */
typedef struct ge_spawn_context {
    uint32_t struct_size;
    const char* host; /* e.g. "127.0.0.1" */
    uint16_t port;    /* a free port chosen by the core */
    /* ABI 1.4: a directory that outlives the child, kept by the engine for this model while
     * models.<name>.keep_cache is set: state that one child hands over to the next (llama-server's
     * slot KV cache). It exists and is writable; the engine bounds its size
     * (models.<name>.cache_max_mb, oldest files dropped after each save). NULL when keep_cache is
     * off. Passed to spawn_spec and target alike. */
    const char* state_dir;
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

/* An HTTP header: one the core adds to every request it forwards (ge_target_t), or one it sends
 * with a probe (ge_probe_request_t). */
typedef struct ge_header {
    const char* name;
    const char* value;
} ge_header_t;

/* An HTTP request the core sends to check readiness and liveness.
 * OWNERSHIP: plugin (every pointer, the strings and the header array); valid until the next call
 * on the same instance or `destroy`. */
typedef struct ge_probe_request {
    uint32_t struct_size;
    const char* method; /* "GET" */
    const char* path;   /* "/health" */
    /* ABI 1.2: an optional body, sent with Content-Length and, when content_type is set, that
     * Content-Type. NULL or body_len 0: no body. May contain NULs; use body_len. */
    const char* body;
    size_t body_len;
    const char* content_type; /* e.g. "application/json", or NULL */
    /* ABI 1.2: headers sent with the probe (e.g. the child's API key, which a generation needs
     * and /health does not). A 1.0/1.1 host ignores them. */
    const ge_header_t* headers;
    size_t header_count;
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
    /* ABI 1.1: the program could not be run at all (missing, not executable, exec refused);
     * core_reason says why. Not set for resource shortages (fork, pipes, threads). */
    bool exec_failed;
} ge_exit_info_t;

/* ABI 1.3: what an instance is, as flags returned by the factory's `capabilities`. */
/* No process: the core never spawns or kills anything for this instance. It asks `target` (with
 * host "" and port 0) and `probe_request` once per attempt, probes the target for readiness and
 * liveness, and routes to it. `spawn_spec` is never called (it must still be set, as every 1.0
 * function; it may fail). The host refuses a `ttl` for such a model and counts it against no
 * max_running or exclusive group. When the target cannot be reached
 * (readiness or liveness failed), `on_exit` is called as for a child stopped by the core
 * (exit_code 0, signal 0, stopped_by_core true, core_reason says what failed, uptime_ms and
 * ready_ms of that attempt): GE_EXIT_RESTART probes again after delay_ms (state backoff),
 * GE_EXIT_GIVE_UP fails the model. */
#define GE_BACKEND_NO_PROCESS 0x1u

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

/* ABI 1.4: the moments at which the core lets a plugin talk to its child (`handover_step`). */
typedef enum ge_handover_point {
    /* A planned stop of a ready child: a ttl unload, a swap, a reload that changed the model, an
     * admin stop or restart, the engine's graceful stop. Never after a crash, a failed liveness
     * probe or a load timeout. The model is already `stopping` (no new request is let in);
     * requests still in flight may run until the core stops the child right after. */
    GE_HANDOVER_SAVE = 0,
    /* The readiness probe passed; the model is marked ready (requests let in) once it is done. */
    GE_HANDOVER_RESTORE = 1,
} ge_handover_point;

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
    /* Called right after `spawn_spec` for the same child (same context), before it is started,
     * so the headers may carry a secret that only this spawn's child accepts. */
    int32_t (*target)(ge_instance* instance, const ge_spawn_context_t* context, ge_target_t* out,
                      ge_error* error);
    /* Called once per child exit; the plugin keeps its own restart budget. */
    int32_t (*on_exit)(ge_instance* instance, const ge_exit_info_t* info, ge_exit_decision_t* out);

    /* ABI 1.2, optional (NULL): a request that makes the child generate one token; used for
     * liveness when models.<name>.liveness.generate is set (instead of `probe_request`), so a
     * child whose readiness probe answers while generation is wedged is restarted. Its answer is
     * judged with `probe_verdict` (only GE_PROBE_READY counts as alive) and bounded by
     * liveness.timeout. Called right after `probe_request` for the same child, so it may carry
     * that spawn's secret. A host that knows it checks struct_size before calling it (a 1.0/1.1
     * factory ends before it); the engine refuses liveness.generate for a plugin without it. */
    int32_t (*generation_probe_request)(ge_instance* instance, ge_probe_request_t* out,
                                        ge_error* error);

    /* ABI 1.3, optional (NULL): the instance's GE_BACKEND_* flags; NULL (or a 1.0-1.2 factory,
     * which ends before it) means 0: a child process per load. Called once per instance, right
     * after `create`, so the answer may depend on the model's config. Return only flags that the
     * host's ABI knows (ge_host_api_t.abi_minor): a host refuses the model when it sees a flag it
     * does not know. A plugin that needs a flag an older host lacks refuses in `create`. */
    uint32_t (*capabilities)(ge_instance* instance);

    /* ABI 1.4, optional (NULL): a short conversation with the child at a ge_handover_point, one
     * HTTP request at a time, for a model with models.<name>.keep_cache (the host refuses that key
     * for a plugin without it). The core calls it first with `previous` NULL. When the plugin
     * sets `next->path`, the core sends that request to the child (the target's host and port;
     * only `next`'s own headers) and calls again with the answer in `previous` (status 0: no
     * answer); a call that leaves `next->path` NULL ends the conversation. Bounded by
     * models.<name>.cache_timeout in total and by 256 requests. A status other than GE_OK ends
     * it too: the core logs error->message and goes on with the stop or the ready. Called on the
     * instance's thread after spawn_spec and target for the same child (same state_dir). */
    int32_t (*handover_step)(ge_instance* instance, int32_t point,
                             const ge_probe_result_t* previous, ge_probe_request_t* next,
                             ge_error* error);
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
