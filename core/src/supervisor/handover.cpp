#include "supervisor/handover.hpp"

#include "logging/logging.hpp"
#include "supervisor/http_probe.hpp"
#include "supervisor/supervisor_clock.hpp"

namespace gradatum {

namespace {
// More than any plugin needs (llama-server: one request per slot and one to list them).
constexpr size_t kMaxSteps = 256;
}  // namespace

size_t run_handover(BackendInstance& backend, HandoverPoint point, const Target& target,
                    std::chrono::milliseconds budget, const std::string& model) {
    using supervisor_clock::Clock;
    const char* what = point == HandoverPoint::save ? "save" : "restore";
    auto deadline = Clock::now() + budget;
    std::optional<ProbeAnswerView> previous;
    size_t sent = 0;
    try {
        while (auto next = backend.handover_step(point, previous)) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (sent >= kMaxSteps || left.count() <= 0) {
                logging::for_model(model)->warn(
                    "the {} of its state stopped after {} request(s): {}", what, sent,
                    sent >= kMaxSteps
                        ? "too many requests"
                        : "cache_timeout reached (models." + model + ".cache_timeout)");
                // The plugin never hears the end: a save it did not finish is one it never
                // marked complete (the ABI: each conversation starts afresh).
                return sent;
            }
            ProbeAnswer answer = http_probe(target.host, target.port, *next, left);
            ++sent;
            logging::for_model(model)->debug("{}: {} {} -> {}{}", what, next->method, next->path,
                                             answer.status,
                                             answer.status == 0 ? " (" + answer.error + ")" : "");
            previous = ProbeAnswerView{answer.status, std::move(answer.body)};
        }
    } catch (const std::exception& e) {
        logging::for_model(model)->warn("{}", e.what());
    }
    return sent;
}

}  // namespace gradatum
