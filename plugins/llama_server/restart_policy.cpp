#include "restart_policy.hpp"

namespace llama_server {

namespace {

bool contains(const std::string& text, const char* what) {
    return text.find(what) != std::string::npos;
}

// A model that cannot load will not load on the next try either.
bool is_load_error(const ChildExit& exit) {
    if (exit.exec_failed) return true;
    return !exit.was_ready && exit.exit_code == 1 &&
           (contains(exit.stderr_tail, "failed to load model") ||
            contains(exit.stderr_tail, "invalid magic characters") ||
            contains(exit.stderr_tail, "invalid argument"));
}

}  // namespace

const plugin_common::ExitVocabulary& exit_vocabulary() {
    static const plugin_common::ExitVocabulary vocabulary{
        {"failed to load model", "couldn't bind HTTP server socket", "invalid magic characters",
         "invalid argument"},
        is_load_error};
    return vocabulary;
}

std::string describe_exit(const ChildExit& exit) {
    return plugin_common::describe_exit(exit, exit_vocabulary());
}

}  // namespace llama_server
