/* plugin_helpers.h, strictly as C (-std=c11 -pedantic -Werror), run by compile_and_run.sh:
 * ge_config_next over the config JSON the core passes to create() (nlohmann's dump of a string
 * map: escapes for quotes, backslashes and control characters, UTF-8 as it is), and
 * ge_set_error. Exits nonzero when a check fails. */
#include <stdio.h>
#include <string.h>

#include "gradatum/plugin_helpers.h"

static int failures = 0;

#define CHECK(condition)                                                                  \
    do {                                                                                  \
        if (!(condition)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            ++failures;                                                                   \
        }                                                                                 \
    } while (0)

/* Reads every pair into "key=value;" text; returns the last result. */
static int read_all(const char* json, char* text, size_t value_size) {
    ge_config_cursor cursor = GE_CONFIG_CURSOR(json);
    char key[32];
    char value[64];
    int result;
    text[0] = '\0';
    while ((result = ge_config_next(&cursor, key, sizeof key, value, value_size)) ==
           GE_CONFIG_PAIR) {
        strcat(text, key);
        strcat(text, "=");
        strcat(text, value);
        strcat(text, ";");
    }
    return result;
}

int main(void) {
    char text[512];
    ge_error error;

    CHECK(read_all("{}", text, 64) == GE_CONFIG_END && strcmp(text, "") == 0);
    CHECK(read_all(" { } ", text, 64) == GE_CONFIG_END);
    CHECK(read_all("{\"a.b\":\"1\",\"c\":\"two words\"}", text, 64) == GE_CONFIG_END);
    CHECK(strcmp(text, "a.b=1;c=two words;") == 0);
    CHECK(read_all("{ \"a\" : \"x\" ,\n \"b\" : \"\" }", text, 64) == GE_CONFIG_END);
    CHECK(strcmp(text, "a=x;b=;") == 0);
    /* Escapes, \u to UTF-8 (a surrogate pair too), and UTF-8 passed as it is. */
    CHECK(read_all("{\"k\":\"q\\\"b\\\\s\\/n\\n t\\t\\u00e9\\u20ac\\ud83d\\ude00 \xc3\xa9\"}", text,
                   64) == GE_CONFIG_END);
    CHECK(strcmp(text, "k=q\"b\\s/n\n t\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xc3\xa9;") == 0);
    /* Not a flat object of strings. */
    CHECK(read_all("", text, 64) == GE_CONFIG_MALFORMED);
    CHECK(read_all("[]", text, 64) == GE_CONFIG_MALFORMED);
    CHECK(read_all("{\"a\":1}", text, 64) == GE_CONFIG_MALFORMED);
    CHECK(read_all("{\"a\":{\"b\":\"c\"}}", text, 64) == GE_CONFIG_MALFORMED);
    CHECK(read_all("{\"a\":\"b\"", text, 64) == GE_CONFIG_MALFORMED); /* no '}' */
    CHECK(read_all("{\"a\":\"b", text, 64) == GE_CONFIG_MALFORMED);   /* unterminated */
    CHECK(read_all("{\"a\":\"b\" \"c\":\"d\"}", text, 64) == GE_CONFIG_MALFORMED);
    CHECK(read_all("{\"a\":\"\\x\"}", text, 64) == GE_CONFIG_MALFORMED);
    CHECK(read_all("{\"a\":\"\\u00\"}", text, 64) == GE_CONFIG_MALFORMED);
    CHECK(read_all("{\"a\":\"\\u0000\"}", text, 64) == GE_CONFIG_MALFORMED);
    CHECK(read_all("{\"a\":\"\\ud83d\"}", text, 64) == GE_CONFIG_MALFORMED); /* lone surrogate */
    CHECK(read_all("{\"a\":\"\\ude00\"}", text, 64) == GE_CONFIG_MALFORMED);
    CHECK(read_all("{\"a\":\"tab\there\"}", text, 64) == GE_CONFIG_MALFORMED);
    CHECK(read_all("{,\"a\":\"b\"}", text, 64) == GE_CONFIG_MALFORMED);
    /* Too long for the buffer: the key is still there to name. */
    {
        ge_config_cursor cursor = GE_CONFIG_CURSOR("{\"long\":\"12345678\"}");
        char key[8];
        char value[8];
        CHECK(ge_config_next(&cursor, key, sizeof key, value, sizeof value) == GE_CONFIG_TOO_LONG);
        CHECK(strcmp(key, "long") == 0);
        CHECK(read_all("{\"k\":\"1234567\"}", text, 8) == GE_CONFIG_END); /* exactly fits */
        CHECK(strcmp(text, "k=1234567;") == 0);
    }
    /* END again after the end; nothing after an error moves on. */
    {
        ge_config_cursor cursor = GE_CONFIG_CURSOR("{\"a\":\"b\"}");
        char key[8];
        char value[8];
        CHECK(ge_config_next(&cursor, key, sizeof key, value, sizeof value) == GE_CONFIG_PAIR);
        CHECK(ge_config_next(&cursor, key, sizeof key, value, sizeof value) == GE_CONFIG_END);
        CHECK(ge_config_next(&cursor, key, sizeof key, value, sizeof value) == GE_CONFIG_END);
    }
    {
        ge_config_cursor cursor = GE_CONFIG_CURSOR(NULL);
        char key[8];
        char value[8];
        CHECK(ge_config_next(&cursor, key, sizeof key, value, sizeof value) == GE_CONFIG_MALFORMED);
    }

    memset(&error, 'x', sizeof error);
    CHECK(ge_set_error(&error, GE_ERR_CONFIG, "example.binary", "'%s' not found (%d)", "ls", 2) ==
          GE_ERR_CONFIG);
    CHECK(strcmp(error.key, "example.binary") == 0);
    CHECK(strcmp(error.message, "'ls' not found (2)") == 0);
    CHECK(ge_set_error(&error, GE_ERR_INTERNAL, NULL, "%s", "no key") == GE_ERR_INTERNAL);
    CHECK(strcmp(error.key, "") == 0);
    CHECK(ge_set_error(NULL, GE_ERR_INVALID, "k", "ignored") == GE_ERR_INVALID);
    {
        char big[1000];
        memset(big, 'm', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        ge_set_error(&error, GE_ERR_CONFIG, big, "%s", big); /* truncated, terminated */
        CHECK(strlen(error.key) == sizeof error.key - 1);
        CHECK(strlen(error.message) == sizeof error.message - 1);
    }

    if (failures) return 1;
    printf("plugin_helpers.h: all checks passed\n");
    return 0;
}
