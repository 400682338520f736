// What to do when a child exits: exponential backoff with jitter, a budget of restarts per
// window that a stable run refills, and few retries for a model that will not load. What counts
// as a load error, and which stderr line explains an exit best, is each backend's own
// vocabulary.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/restart_settings.hpp"

namespace plugin_common {

struct ChildExit {
    int exit_code = -1;
    int signal = 0;
    bool was_ready = false;
    bool stopped_by_core = false;
    bool exec_failed = false;  // the program could not be run at all
    uint64_t ready_ms = 0;
    uint64_t now_ms = 0;
    std::string stderr_tail;
    std::string core_reason;
};

struct Decision {
    bool restart = false;
    uint32_t delay_ms = 0;
    std::string reason;
};

struct ExitVocabulary {
    // Phrases of a stderr line that explains an exit better than the last line does.
    std::vector<std::string> telling;
    // True when the next start would fail the same way (counted against load_error_retries).
    std::function<bool(const ChildExit&)> is_load_error;
};

// "exited with code 1 while loading: failed to load model"
std::string describe_exit(const ChildExit& exit, const ExitVocabulary& vocabulary);

class RestartPolicy {
  public:
    RestartPolicy(RestartSettings settings, ExitVocabulary vocabulary,
                  uint32_t seed = std::random_device{}());
    Decision on_exit(const ChildExit& exit);

  private:
    RestartSettings settings_;
    ExitVocabulary vocabulary_;
    std::mt19937 random_;
    std::deque<uint64_t> restarts_;  // when each restart in the window was granted
    int attempt_ = 0;                // consecutive restarts: the backoff exponent
    int load_errors_ = 0;
};

}  // namespace plugin_common
