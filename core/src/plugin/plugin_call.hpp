// Every call the host makes into a plugin goes through a PluginCall. It names the call for the
// fatal-signal report (a crash inside a plugin says which plugin and callback it was in), and
// times it: a call still running after kSlowCallLimit is logged while it blocks, and again with
// its duration when it returns.
#pragma once

#include <chrono>
#include <string>

namespace gradatum {

class Plugin;

// What a crash report reads: plain pointers, so a signal handler can read them.
struct PluginCallSite {
    const char* plugin_id = nullptr;
    const char* plugin_version = nullptr;
    const char* callback = nullptr;  // e.g. "spawn_spec"
    const char* model = nullptr;     // the instance's model, or nullptr for init/get_factory/deinit
};

// The call into a plugin that this thread is making, or nullptr. Async-signal-safe.
const PluginCallSite* current_plugin_call() noexcept;

// A call slower than this is reported in the log.
constexpr std::chrono::milliseconds kSlowCallLimit{1000};

class PluginCall {
  public:
    // `plugin` and `model` must outlive the call.
    PluginCall(const Plugin& plugin, const char* callback, const std::string* model = nullptr);
    ~PluginCall();
    PluginCall(const PluginCall&) = delete;
    PluginCall& operator=(const PluginCall&) = delete;

  private:
    friend class CallWatch;
    PluginCallSite site_;
    const PluginCallSite* outer_;  // the call this one is nested in (none today)
    std::chrono::steady_clock::time_point start_;
    bool reported_ = false;  // the watch already logged it as blocking (under its lock)
};

// "plugin llama_server 0.1.0: spawn_spec for model m" — how the log names a call.
std::string describe(const PluginCallSite& site);

}  // namespace gradatum
