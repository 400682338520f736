// What to do when llama-server exits: the shared restart policy (plugins/common), with
// llama-server's words for a model that will not load.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "common/restart_policy.hpp"
#include "settings.hpp"

namespace llama_server {

using plugin_common::ChildExit;
using plugin_common::Decision;

// The stderr lines that explain an exit, and what counts as a load error.
const plugin_common::ExitVocabulary& exit_vocabulary();

// "exited with code 1 while loading: failed to load model"
std::string describe_exit(const ChildExit& exit);

class RestartPolicy : public plugin_common::RestartPolicy {
  public:
    explicit RestartPolicy(RestartSettings settings, uint32_t seed = std::random_device{}())
        : plugin_common::RestartPolicy(settings, exit_vocabulary(), seed) {}
};

}  // namespace llama_server
