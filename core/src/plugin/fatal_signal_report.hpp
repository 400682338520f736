// A crash must not be silent: on SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT the engine writes
// one line to stderr naming the signal and, when the crashing thread was inside a plugin, the
// plugin, its version, the callback and the model; then it dies of that signal as it would have
// without the handler (plugins run in the engine's process: there is no isolation to recover).
#pragma once

namespace gradatum {

// Installs the handlers (process-wide). Called once by the host at startup.
void install_fatal_signal_report();

}  // namespace gradatum
