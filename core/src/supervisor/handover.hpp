// The handover conversation (ABI 1.4): at a planned stop or right after the readiness probe,
// the plugin talks to its child one HTTP request at a time (llama-server: save or restore its
// slots' KV cache). The core sends what the plugin asks for, bounded in time and steps; the
// plugin logs what it did. Nothing here can fail the stop or the load.
#pragma once

#include <chrono>
#include <string>

#include "backend_types.hpp"
#include "plugin/backend_instance.hpp"

namespace gradatum {

// Runs the conversation against the child at `target` (its host and port; the requests carry
// their own headers). Returns the number of requests sent.
size_t run_handover(BackendInstance& backend, HandoverPoint point, const Target& target,
                    std::chrono::milliseconds budget, const std::string& model);

}  // namespace gradatum
