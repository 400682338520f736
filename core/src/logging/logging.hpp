// The engine's log: one asynchronous logger on stderr that never blocks the engine. When stderr
// does not keep up (a full pipe nobody reads, a stalled terminal), the oldest queued lines are
// dropped and counted instead: a blocked relay would stop draining the children's pipes, and a
// child blocked on its own stderr stops generating.
#pragma once

#include <cstddef>

namespace gradatum::logging {

// Installs the logger as spdlog's default. Call once, before any thread logs.
void init();

// Lines dropped since the last call (0 if none, or before init()).
size_t take_dropped();
// Lines dropped since init(), for the metrics.
size_t dropped_total();

// Writes out what is queued and stops the logging thread; call before the process exits.
void shutdown();

}  // namespace gradatum::logging
