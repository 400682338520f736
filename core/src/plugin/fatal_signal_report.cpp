// The handler only calls async-signal-safe functions (write, sigaction via SA_RESETHAND, raise)
// and reads plain pointers: no allocation, no stdio, no logger (its queued lines are lost).
#include "plugin/fatal_signal_report.hpp"

#include <signal.h>
#include <unistd.h>

#include "plugin/plugin_call.hpp"

namespace gradatum {

namespace {

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

const char* signal_name(int sig) {
    switch (sig) {
        case SIGSEGV:
            return "SIGSEGV";
        case SIGBUS:
            return "SIGBUS";
        case SIGILL:
            return "SIGILL";
        case SIGFPE:
            return "SIGFPE";
        case SIGABRT:
            return "SIGABRT";
        default:
            return "?";
    }
}

// A fixed buffer filled without library calls.
struct Line {
    char text[768];
    size_t size = 0;

    void add(const char* s) {
        while (s && *s && size < sizeof text - 1) text[size++] = *s++;
    }
    void add(int n) {
        char digits[12];
        int count = 0;
        unsigned value = n < 0 ? 0u - static_cast<unsigned>(n) : static_cast<unsigned>(n);
        if (n < 0) add("-");
        do {
            digits[count++] = static_cast<char>('0' + value % 10);
            value /= 10;
        } while (value && count < 11);
        while (count > 0 && size < sizeof text - 1) text[size++] = digits[--count];
    }
};

extern "C" void report_fatal_signal(int sig) {
    Line line;
    line.add("gradatum-engine: fatal signal ");
    line.add(sig);
    line.add(" (");
    line.add(signal_name(sig));
    line.add(")");
    if (const PluginCallSite* site = current_plugin_call()) {
        line.add(" in plugin ");
        line.add(site->plugin_id);
        line.add(" ");
        line.add(site->plugin_version);
        line.add(", callback ");
        line.add(site->callback);
        if (site->model) {
            line.add(", model ");
            line.add(site->model);
        }
    } else {
        line.add(" (not in a plugin callback)");
    }
    line.add("; the engine stops (plugins run in its process)\n");
    ssize_t ignored = write(STDERR_FILENO, line.text, line.size);
    (void)ignored;
    // SA_RESETHAND restored the default action. The signal is blocked while this handler runs:
    // raised again, it is delivered on return and ends the process, also when it was sent by
    // kill() (a fault would recur by itself; a sent signal would not).
    raise(sig);
}

}  // namespace

void install_fatal_signal_report() {
    struct sigaction action {};
    action.sa_handler = report_fatal_signal;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    for (int sig : kFatalSignals) sigaction(sig, &action, nullptr);
}

}  // namespace gradatum
