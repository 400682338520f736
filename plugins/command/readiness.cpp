#include "readiness.hpp"

namespace command {

ge_probe_verdict probe_verdict(const Settings& s, int status) {
    if (s.ready_status.count(status)) return GE_PROBE_READY;
    if (status >= 400 && status < 500) return GE_PROBE_FAILED;
    return GE_PROBE_LOADING;
}

}  // namespace command
