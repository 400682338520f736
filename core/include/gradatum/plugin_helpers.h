/*
 * gradatum-engine plugin helpers — optional, header-only conveniences for plugins written in C.
 *
 * Not part of the ABI: nothing here crosses the boundary, and a plugin that does not include it
 * loses nothing (plugin_abi.h alone is the contract). Everything is `static inline`, so nothing
 * is exported from the plugin. C11 (or C++11), libc only.
 *
 *  - GE_PLUGIN_EXPORT marks `ge_plugin_entry`, the one symbol a plugin exports (build with
 *    -fvisibility=hidden: the SDK's CMake target and pkg-config file add it).
 *  - ge_set_error() fills a ge_error: the key (relative to `models.<name>.`) and a printf-style
 *    message, both truncated to fit.
 *  - ge_config_next() reads the config JSON that `create` gets: one flat object of string keys
 *    and string values ({"example.binary":"/usr/bin/llama-server","example.args":"-c 4096"}),
 *    one pair per call, unescaped.
 */
#ifndef GRADATUM_PLUGIN_HELPERS_H
#define GRADATUM_PLUGIN_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gradatum/plugin_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GE_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define GE_PLUGIN_EXPORT
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GE_HELPER_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define GE_HELPER_PRINTF(fmt, args)
#endif

/* Fills `error` (if not NULL): key = `key` (NULL for none), message = the formatted text.
 * Returns `status`, so a failing callback can end with `return ge_set_error(...)`. */
static inline int32_t ge_set_error(ge_error* error, int32_t status, const char* key,
                                   const char* format, ...) GE_HELPER_PRINTF(4, 5);

static inline int32_t ge_set_error(ge_error* error, int32_t status, const char* key,
                                   const char* format, ...) {
    va_list args;
    if (!error) return status;
    snprintf(error->key, sizeof error->key, "%s", key ? key : "");
    va_start(args, format);
    vsnprintf(error->message, sizeof error->message, format, args);
    va_end(args);
    return status;
}

/* ---------------------------------------------------------------- the config JSON */

/* Where ge_config_next() is in the config JSON. Start with GE_CONFIG_CURSOR(config_json). */
typedef struct ge_config_cursor {
    const char* at; /* the next unread character */
    int state;      /* 0 before '{', 1 inside the object, 2 after '}' */
} ge_config_cursor;

#define GE_CONFIG_CURSOR(json) \
    { (json), 0 }

enum {
    GE_CONFIG_END = 0,        /* no more pairs */
    GE_CONFIG_PAIR = 1,       /* key and value were filled */
    GE_CONFIG_MALFORMED = -1, /* not a flat JSON object of strings */
    GE_CONFIG_TOO_LONG = -2   /* a key or value does not fit its buffer (key is filled when the
                                 key itself fit) */
};

static inline const char* ge_helper_skip_space(const char* p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') ++p;
    return p;
}

static inline int ge_helper_hex4(const char* p, unsigned* out) {
    unsigned value = 0;
    int i;
    for (i = 0; i < 4; ++i) {
        char c = p[i];
        value <<= 4;
        if (c >= '0' && c <= '9')
            value |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            value |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            value |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = value;
    return 1;
}

/* Reads one JSON string at `p` into `out` (NUL-terminated, UTF-8). Returns the character after
 * its closing quote, or NULL; *result says why (GE_CONFIG_MALFORMED or GE_CONFIG_TOO_LONG). */
static inline const char* ge_helper_read_string(const char* p, char* out, size_t size,
                                                int* result) {
    size_t n = 0;
    *result = GE_CONFIG_MALFORMED;
    if (*p++ != '"') return NULL;
    while (*p != '"') {
        unsigned char bytes[4];
        size_t count = 1;
        unsigned char c = (unsigned char)*p;
        if (c < 0x20) return NULL; /* the end of the text, or a raw control character */
        if (c != '\\') {
            bytes[0] = c;
            ++p;
        } else {
            unsigned code;
            switch (p[1]) {
                case '"':
                    bytes[0] = '"';
                    break;
                case '\\':
                    bytes[0] = '\\';
                    break;
                case '/':
                    bytes[0] = '/';
                    break;
                case 'b':
                    bytes[0] = '\b';
                    break;
                case 'f':
                    bytes[0] = '\f';
                    break;
                case 'n':
                    bytes[0] = '\n';
                    break;
                case 'r':
                    bytes[0] = '\r';
                    break;
                case 't':
                    bytes[0] = '\t';
                    break;
                case 'u':
                    break;
                default:
                    return NULL;
            }
            if (p[1] != 'u') {
                p += 2;
            } else {
                if (!ge_helper_hex4(p + 2, &code)) return NULL;
                p += 6;
                if (code >= 0xD800 && code <= 0xDBFF) { /* a surrogate pair */
                    unsigned low;
                    if (p[0] != '\\' || p[1] != 'u' || !ge_helper_hex4(p + 2, &low) ||
                        low < 0xDC00 || low > 0xDFFF)
                        return NULL;
                    p += 6;
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                } else if (code >= 0xDC00 && code <= 0xDFFF) {
                    return NULL;
                }
                if (code == 0) return NULL; /* would cut the NUL-terminated string */
                if (code < 0x80) {
                    bytes[0] = (unsigned char)code;
                } else if (code < 0x800) {
                    bytes[0] = (unsigned char)(0xC0 | (code >> 6));
                    bytes[1] = (unsigned char)(0x80 | (code & 0x3F));
                    count = 2;
                } else if (code < 0x10000) {
                    bytes[0] = (unsigned char)(0xE0 | (code >> 12));
                    bytes[1] = (unsigned char)(0x80 | ((code >> 6) & 0x3F));
                    bytes[2] = (unsigned char)(0x80 | (code & 0x3F));
                    count = 3;
                } else {
                    bytes[0] = (unsigned char)(0xF0 | (code >> 18));
                    bytes[1] = (unsigned char)(0x80 | ((code >> 12) & 0x3F));
                    bytes[2] = (unsigned char)(0x80 | ((code >> 6) & 0x3F));
                    bytes[3] = (unsigned char)(0x80 | (code & 0x3F));
                    count = 4;
                }
            }
        }
        if (n + count >= size) {
            *result = GE_CONFIG_TOO_LONG;
            if (size > 0) out[0] = '\0';
            return NULL;
        }
        memcpy(out + n, bytes, count);
        n += count;
    }
    out[n] = '\0';
    return p + 1;
}

/* Reads the next pair of the config JSON: copies the key and the value, unescaped, into the
 * buffers. Returns GE_CONFIG_PAIR, GE_CONFIG_END (and again on every later call), or an error
 * (GE_CONFIG_MALFORMED, GE_CONFIG_TOO_LONG); after an error the cursor stays where it was. */
static inline int ge_config_next(ge_config_cursor* cursor, char* key, size_t key_size, char* value,
                                 size_t value_size) {
    const char* p;
    int result;
    if (!cursor || !cursor->at) return GE_CONFIG_MALFORMED;
    if (cursor->state == 2) return GE_CONFIG_END;
    p = ge_helper_skip_space(cursor->at);
    if (cursor->state == 0) {
        if (*p != '{') return GE_CONFIG_MALFORMED;
        p = ge_helper_skip_space(p + 1);
        if (*p == '}') {
            cursor->state = 2;
            return GE_CONFIG_END;
        }
    } else {
        if (*p == '}') {
            cursor->state = 2;
            return GE_CONFIG_END;
        }
        if (*p != ',') return GE_CONFIG_MALFORMED;
        p = ge_helper_skip_space(p + 1);
    }
    if (key_size > 0) key[0] = '\0';
    p = ge_helper_read_string(p, key, key_size, &result);
    if (!p) return result;
    p = ge_helper_skip_space(p);
    if (*p != ':') return GE_CONFIG_MALFORMED;
    p = ge_helper_read_string(ge_helper_skip_space(p + 1), value, value_size, &result);
    if (!p) return result;
    cursor->at = p;
    cursor->state = 1;
    return GE_CONFIG_PAIR;
}

#ifdef __cplusplus
}
#endif

#endif /* GRADATUM_PLUGIN_HELPERS_H */
