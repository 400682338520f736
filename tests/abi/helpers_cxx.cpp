// plugin_helpers.h must compile as C++ too (C++ plugins may use it): strict, every standard.
#include <cstdio>
#include <cstring>

#include "gradatum/plugin_helpers.h"

int main() {
    ge_config_cursor cursor = GE_CONFIG_CURSOR("{\"a\":\"b\"}");
    char key[8];
    char value[8];
    ge_error error{};
    if (ge_config_next(&cursor, key, sizeof key, value, sizeof value) != GE_CONFIG_PAIR ||
        std::strcmp(value, "b") != 0 ||
        ge_set_error(&error, GE_ERR_CONFIG, key, "%d", 1) != GE_ERR_CONFIG ||
        std::strcmp(error.message, "1") != 0) {
        std::fprintf(stderr, "plugin_helpers.h misbehaves in C++\n");
        return 1;
    }
    return 0;
}
