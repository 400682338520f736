/* A shared library that exports something, but not ge_plugin_entry: not a plugin. */
__attribute__((visibility("default"))) int some_other_symbol(void) {
    return 42;
}
