// gradatum-engine: parse the command line, load the config, run the engine until a signal.
// Exit codes (documented in README.md): 0 ok, 64 usage, 66 config file unreadable,
// 69 listen address unavailable, 70 internal error, 78 invalid config. --check: 0 fine, 1 problems.
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionException.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include "check/check.hpp"
#include "config/config.hpp"
#include "engine.hpp"
#include "gradatum/plugin_abi.h"
#include "gradatum/version.hpp"
#include "logging/logging.hpp"
#include "ops/sd_notify.hpp"
#include "plugin/fatal_signal_report.hpp"
#include "supervisor/model_supervisor.hpp"

namespace {

using Poco::Util::Option;

// NOTIFY_SOCKET and WATCHDOG_USEC, taken out of the environment before any thread starts.
gradatum::ops::NotifyTarget notify_target;

// Signals that stop the engine, and SIGHUP, which reloads it.
// Under nohup, SIGHUP is ignored on purpose: a blocked signal is queued even when ignored, so
// it must then stay out of the set that sigwait takes.
bool hangup_ignored() {
    struct sigaction current {};
    return sigaction(SIGHUP, nullptr, &current) == 0 && current.sa_handler == SIG_IGN;
}

sigset_t stop_signals() {
    static const bool with_hangup = !hangup_ignored();  // read once, before anything changes it
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGQUIT}) sigaddset(&set, sig);
    if (with_hangup) sigaddset(&set, SIGHUP);
    return set;
}

// The stop signals are blocked in every thread (see main), so they wait here. Returns the
// signal, or 0 when `timeout` passed first.
int wait_for_stop_signal(std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) {
    sigset_t set = stop_signals();
    if (timeout == std::chrono::milliseconds::max()) {
        int sig = 0;
        while (sigwait(&set, &sig) != 0) {
        }
        return sig;
    }
    timespec wait{static_cast<time_t>(timeout.count() / 1000),
                  static_cast<long>(timeout.count() % 1000 * 1000000)};
    int sig;
    while ((sig = sigtimedwait(&set, nullptr, &wait)) < 0 && errno == EINTR) {
    }
    return sig > 0 ? sig : 0;
}
using Poco::Util::OptionSet;

class EngineApp : public Poco::Util::ServerApplication {
  protected:
    void defineOptions(OptionSet& options) override {
        ServerApplication::defineOptions(options);
        options.addOption(
            Option("config", "c", "configuration file (.properties, .ini, .xml, .json)")
                .required(false)
                .repeatable(false)
                .argument("FILE"));
        options.addOption(Option("plugin-dir", "p",
                                 "plugin directory (default: <bin>/../lib/gradatum-engine/plugins)")
                              .required(false)
                              .repeatable(false)
                              .argument("DIR"));
        options.addOption(Option("check", "",
                                 "validate the config, plugins, model files, TLS files and listen "
                                 "addresses, start nothing; exit 0 if fine, 1 with problems")
                              .required(false)
                              .repeatable(false));
        options.addOption(Option("help", "h", "show this help").required(false).repeatable(false));
        options.addOption(
            Option("version", "v", "print versions").required(false).repeatable(false));
    }

    void handleOption(const std::string& name, const std::string& value) override {
        ServerApplication::handleOption(name, value);
        if (name == "config") config_path_ = value;
        if (name == "plugin-dir") plugin_dir_ = value;
        if (name == "check") check_ = true;
        if (name == "help") help_ = true;
        if (name == "version") version_ = true;
        if (help_ || version_) stopOptionsProcessing();
    }

    int main(const std::vector<std::string>& args) override {
        // A crash (in a plugin or not) says so on stderr, naming the plugin and callback it was
        // in. Installed here, after Poco's Application constructor installed its own handler
        // for SIGSEGV/SIGBUS/SIGILL (Poco::SignalHandler), which aborts without a word.
        gradatum::install_fatal_signal_report();
        if (help_) {
            Poco::Util::HelpFormatter help(options());
            help.setCommand(commandName());
            help.setUsage("[--check] --config FILE [--plugin-dir DIR]");
            help.setHeader("Supervisor and OpenAI-compatible proxy for llama.cpp's llama-server.");
            help.format(std::cout);
            return EXIT_OK;
        }
        if (version_) {
            std::cout << "gradatum-engine " << GRADATUM_ENGINE_VERSION << " (plugin ABI "
                      << GE_ABI_MAJOR << "." << GE_ABI_MINOR << ")\n";
            return EXIT_OK;
        }
        if (!args.empty()) {
            std::cerr << "gradatum-engine: unexpected argument '" << args.front()
                      << "' (see --help)\n";
            return EXIT_USAGE;
        }
        if (config_path_.empty()) {
            std::cerr << "gradatum-engine: --config FILE is required (see --help)\n";
            return EXIT_USAGE;
        }
        return check_ ? check() : serve();
    }

  private:
    std::string default_plugin_dir() {
        Poco::Path exe(config().getString("application.dir"));
        return exe.parent().append("lib/gradatum-engine/plugins").toString();
    }

    // --check: every problem on its own line, "file: key: message"; nothing is started.
    int check() {
        spdlog::set_level(spdlog::level::warn);
        auto report = gradatum::check::run(
            config_path_, plugin_dir_.empty() ? default_plugin_dir() : plugin_dir_);
        gradatum::logging::shutdown();  // the log lines (warnings) first, then the report
        for (const auto& problem : report.problems) std::cout << problem << "\n";
        if (!report.ok()) {
            std::cout << config_path_ << ": " << report.problems.size() << " problem"
                      << (report.problems.size() == 1 ? "" : "s") << "\n";
            return 1;
        }
        std::cout << report.summary << "\n";
        return EXIT_OK;
    }

    int serve() {
        gradatum::EngineConfig config;
        try {
            config = gradatum::load_config(config_path_);
        } catch (const gradatum::ConfigFileError& e) {
            std::cerr << "gradatum-engine: " << e.what() << "\n";
            return EXIT_NOINPUT;
        } catch (const gradatum::ConfigError& e) {
            std::cerr << "gradatum-engine: config error: " << e.what() << "\n";
            return EXIT_CONFIG;
        }
        gradatum::logging::Settings log_settings;
        log_settings.level = config.log_level;
        log_settings.format = config.log_format == "json" ? gradatum::logging::Format::json
                                                          : gradatum::logging::Format::text;
        log_settings.file = config.log_file;
        log_settings.max_size_bytes = static_cast<size_t>(config.log_max_size_mb) * 1024 * 1024;
        log_settings.max_files = static_cast<size_t>(config.log_max_files);
        try {
            gradatum::logging::configure(log_settings);
        } catch (const gradatum::logging::FileError& e) {
            std::cerr << "gradatum-engine: config error: "
                      << gradatum::config_error_text(config_path_, "logging.file", e.what())
                      << "\n";
            return EXIT_CONFIG;
        }
        std::string plugin_dir = plugin_dir_.empty() ? default_plugin_dir() : plugin_dir_;
        std::unique_ptr<gradatum::ops::ServiceNotifier> notifier;  // outlives the engine
        std::unique_ptr<gradatum::Engine> engine;
        try {
            engine = std::make_unique<gradatum::Engine>(std::move(config), plugin_dir);
            notifier = std::make_unique<gradatum::ops::ServiceNotifier>(
                notify_target, engine->autostart_model_names());
            engine->set_state_observer([n = notifier.get()](const std::string& model,
                                                            gradatum::ModelState state,
                                                            const std::string& reason) {
                n->model_state(model, state, reason);
            });
            engine->start();
            notifier->listening();
        } catch (const gradatum::ConfigError& e) {
            spdlog::error("config error: {}", e.what());
            return EXIT_CONFIG;
        } catch (const gradatum::ListenError& e) {
            spdlog::error("{}", e.what());
            return EXIT_UNAVAILABLE;
        }
        int sig;
        while ((sig = wait_for_stop_signal()) == SIGHUP) {
            spdlog::info("{}: reloading", strsignal(sig));
            notifier->reloading();
            engine->reload();
            notifier->reloaded();
        }
        notifier->stopping();
        spdlog::info("{}: stopping; draining (a second signal skips the drain)", strsignal(sig));
        std::atomic<bool> hurry{false};
        std::atomic<bool> done{false};
        std::thread second_signal([&] {
            // Looks at `done` between short waits: nothing has to wake this thread.
            while (!done) {
                int next = wait_for_stop_signal(std::chrono::milliseconds(100));
                if (next == SIGHUP) continue;  // a reload means nothing while stopping
                if (next) {
                    spdlog::warn("{} again: skipping the drain", strsignal(next));
                    hurry = true;
                    return;
                }
            }
        });
        engine->stop(hurry);
        done = true;
        second_signal.join();
        engine.reset();
        return EXIT_OK;
    }

    std::string config_path_;
    std::string plugin_dir_;
    bool check_ = false;
    bool help_ = false;
    bool version_ = false;
};

}  // namespace

int main(int argc, char** argv) {
    // A client that goes away must not kill the engine (POCO-NOTES item 4).
    signal(SIGPIPE, SIG_IGN);
    // Inherited as SIG_IGN (some launchers do that), children would be reaped by the kernel and
    // their exit statuses lost: waitid would block until every child had exited.
    signal(SIGCHLD, SIG_DFL);
    // Every client connection is a descriptor, idle ones included: take what the hard limit
    // allows (the soft default, 1024, is too few for a server). Children inherit it.
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    // Stop signals are taken with sigwait only: block them before any thread starts, so that
    // every thread inherits the block and none is killed by a default action. Children get a
    // clean mask (see child_process.cpp).
    notify_target = gradatum::ops::NotifyTarget::from_environment();
    sigset_t handled = stop_signals();
    pthread_sigmask(SIG_BLOCK, &handled, nullptr);
    gradatum::logging::init();
    // Every return from here on writes out the queued log lines first.
    struct FlushLog {
        ~FlushLog() { gradatum::logging::shutdown(); }
    } flush_log;
    try {
        {
            // Poco reports a bad option as a config error (78); it is a usage error (64). Parse
            // once with a throwaway app (only one Application may exist at a time).
            EngineApp probe;
            try {
                probe.init(argc, argv);
            } catch (const Poco::Util::OptionException& e) {
                std::cerr << "gradatum-engine: " << e.displayText() << " (see --help)\n";
                return Poco::Util::Application::EXIT_USAGE;
            }
        }
        EngineApp app;
        return app.run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "gradatum-engine: " << e.what() << "\n";
        return 70;
    }
}
