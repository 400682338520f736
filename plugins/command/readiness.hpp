// What a command backend's health answer means.
#pragma once

#include "gradatum/plugin_abi.h"
#include "settings.hpp"

namespace command {

// A status of command.ready_status: ready. Any other 4xx: whatever answers will not become
// ready by waiting (a wrong command.health_path, a key the probe lacks). No answer (0), 5xx and
// the rest: still loading.
ge_probe_verdict probe_verdict(const Settings& s, int status);

}  // namespace command
