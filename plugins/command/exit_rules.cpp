#include "exit_rules.hpp"

namespace command {

bool is_load_error(const plugin_common::ChildExit& exit) {
    if (exit.exec_failed) return true;
    // A signal (the OOM killer, the core's stop after ready_timeout) says nothing of the config.
    return !exit.was_ready && !exit.stopped_by_core && exit.signal == 0 && exit.exit_code > 0;
}

const plugin_common::ExitVocabulary& exit_vocabulary() {
    static const plugin_common::ExitVocabulary vocabulary{{}, is_load_error};
    return vocabulary;
}

}  // namespace command
