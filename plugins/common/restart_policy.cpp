#include "common/restart_policy.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace plugin_common {

namespace {

// The stderr line that best explains an exit: a telling one, else the last line.
std::string telling_line(const std::string& tail, const std::vector<std::string>& telling) {
    std::istringstream lines(tail);
    std::string line, last, found;
    while (std::getline(lines, line)) {
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        last = line;
        for (const auto& phrase : telling) {
            if (line.find(phrase) != std::string::npos) found = line;
        }
    }
    std::string pick = found.empty() ? last : found;
    return pick.size() > 160 ? pick.substr(0, 160) + "..." : pick;
}

}  // namespace

std::string describe_exit(const ChildExit& exit, const ExitVocabulary& vocabulary) {
    std::string text;
    if (exit.stopped_by_core && !exit.core_reason.empty()) {
        text = "stopped: " + exit.core_reason;
    } else if (!exit.core_reason.empty()) {
        text = exit.core_reason;
    } else if (exit.signal != 0) {
        text = "killed by signal " + std::to_string(exit.signal);
    } else {
        text = "exited with code " + std::to_string(exit.exit_code);
    }
    if (!exit.was_ready && exit.core_reason.empty()) text += " while loading";
    std::string line = telling_line(exit.stderr_tail, vocabulary.telling);
    if (!line.empty() && !exit.stopped_by_core) text += ": " + line;
    return text;
}

RestartPolicy::RestartPolicy(RestartSettings settings, ExitVocabulary vocabulary, uint32_t seed)
    : settings_(settings), vocabulary_(std::move(vocabulary)), random_(seed) {}

Decision RestartPolicy::on_exit(const ChildExit& exit) {
    Decision decision;
    const std::string what = describe_exit(exit, vocabulary_);
    if (exit.was_ready && exit.ready_ms >= static_cast<uint64_t>(settings_.stable_after_s * 1000)) {
        restarts_.clear();  // it ran well: a new crash starts a fresh budget
        attempt_ = 0;
        load_errors_ = 0;
    }
    if (vocabulary_.is_load_error && vocabulary_.is_load_error(exit)) {
        if (++load_errors_ > settings_.load_error_retries) {
            decision.reason = "could not load " + std::to_string(load_errors_) +
                              " times; check the model's config (" + what + ")";
            return decision;
        }
    }
    const auto window_ms = static_cast<uint64_t>(settings_.window_s * 1000);
    while (!restarts_.empty() && exit.now_ms - restarts_.front() > window_ms) restarts_.pop_front();
    if (static_cast<int>(restarts_.size()) >= settings_.max_retries) {
        decision.reason =
            "gave up after " + std::to_string(restarts_.size()) + " restarts within " +
            std::to_string(static_cast<int>(settings_.window_s)) + " s; last: " + what;
        return decision;
    }
    double delay_s = std::min(settings_.max_delay_s,
                              settings_.initial_delay_s * std::pow(2.0, std::min(attempt_, 30)));
    std::uniform_real_distribution<double> spread(-settings_.jitter, settings_.jitter);
    delay_s = std::min(settings_.max_delay_s, delay_s * (1.0 + spread(random_)));
    ++attempt_;
    restarts_.push_back(exit.now_ms);
    decision.restart = true;
    // Clamped: a huge max_delay must not overflow the uint32 milliseconds (undefined behaviour).
    decision.delay_ms = static_cast<uint32_t>(
        std::min(std::max(0.0, delay_s) * 1000, static_cast<double>(UINT32_MAX)));
    decision.reason = what;
    return decision;
}

}  // namespace plugin_common
