// The current call per thread (for the crash report) and the watch over slow calls: one
// detached thread, asleep until the oldest running call reaches the limit.
#include "plugin/plugin_call.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "plugin/plugin_registry.hpp"

namespace gradatum {

namespace {

// A plain pointer in static TLS (the core is linked into the executable): readable from a
// signal handler.
thread_local const PluginCallSite* t_current = nullptr;

long long ms_between(std::chrono::steady_clock::time_point from,
                     std::chrono::steady_clock::time_point to) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

}  // namespace

const PluginCallSite* current_plugin_call() noexcept {
    return t_current;
}

std::string describe(const PluginCallSite& site) {
    std::string text =
        std::string("plugin ") + site.plugin_id + " " + site.plugin_version + ": " + site.callback;
    if (site.model) text += std::string(" for model ") + site.model;
    return text;
}

// The running calls. Leaked on purpose: its thread is detached and may outlive static
// destruction at exit.
class CallWatch {
  public:
    static CallWatch& instance() {
        static CallWatch* watch = new CallWatch;
        return *watch;
    }

    void add(PluginCall* call) {
        std::lock_guard<std::mutex> lock(mutex_);
        bool idle = std::none_of(running_.begin(), running_.end(),
                                 [](const PluginCall* c) { return !c->reported_; });
        running_.push_back(call);
        start_thread();
        if (idle) woken_.notify_one();  // otherwise an earlier deadline is already awaited
    }

    // Returns whether the watch logged it while it ran.
    bool remove(PluginCall* call) {
        std::lock_guard<std::mutex> lock(mutex_);
        running_.erase(std::find(running_.begin(), running_.end(), call));
        return call->reported_;
    }

  private:
    void start_thread() {
        if (started_) return;
        try {
            std::thread([this] { run(); }).detach();
            started_ = true;
        } catch (const std::system_error& e) {
            // No watch while blocked; the warning on return still comes. Tried again next call.
            spdlog::warn("cannot start the plugin call watch: {}", e.what());
        }
    }

    void run() {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            auto now = std::chrono::steady_clock::now();
            auto next = std::chrono::steady_clock::time_point::max();
            for (PluginCall* call : running_) {
                if (call->reported_) continue;
                auto deadline = call->start_ + kSlowCallLimit;
                if (now >= deadline) {
                    call->reported_ = true;
                    spdlog::warn("{} has not returned after {} ms (limit {} ms)",
                                 describe(call->site_), ms_between(call->start_, now),
                                 kSlowCallLimit.count());
                } else {
                    next = std::min(next, deadline);
                }
            }
            if (next == std::chrono::steady_clock::time_point::max())
                woken_.wait(lock);
            else
                woken_.wait_until(lock, next);
        }
    }

    std::mutex mutex_;
    std::condition_variable woken_;
    std::vector<PluginCall*> running_;
    bool started_ = false;
};

PluginCall::PluginCall(const Plugin& plugin, const char* callback, const std::string* model)
    : outer_(t_current), start_(std::chrono::steady_clock::now()) {
    site_.plugin_id = plugin.id.c_str();
    site_.plugin_version = plugin.version.c_str();
    site_.callback = callback;
    site_.model = model ? model->c_str() : nullptr;
    t_current = &site_;
    CallWatch::instance().add(this);
}

PluginCall::~PluginCall() {
    bool reported = CallWatch::instance().remove(this);
    t_current = outer_;
    auto took = ms_between(start_, std::chrono::steady_clock::now());
    if (took >= kSlowCallLimit.count() || reported) {
        spdlog::warn("{} took {} ms (limit {} ms)", describe(site_), took, kSlowCallLimit.count());
    }
}

}  // namespace gradatum
