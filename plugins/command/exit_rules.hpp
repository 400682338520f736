// How the restart policy reads a command backend's exits: it knows no server's wording, so the
// last stderr line explains an exit, and a load error is what fails the same way every time.
#pragma once

#include "common/restart_policy.hpp"

namespace command {

// A load error: the program could not be run, or it exited with a non-zero code on its own
// before it ever became ready (a bad flag, a missing model file).
bool is_load_error(const plugin_common::ChildExit& exit);

const plugin_common::ExitVocabulary& exit_vocabulary();

}  // namespace command
