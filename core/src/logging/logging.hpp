// The engine's log: one asynchronous logger that never blocks the engine. When its output does
// not keep up (a full pipe nobody reads, a stalled terminal or disk), the oldest queued lines are
// dropped and counted instead: a blocked relay would stop draining the children's pipes, and a
// child blocked on its own stderr stops generating.
//
// Lines about one model go through for_model() / for_child(): the model's name is a structured
// field of the line (in JSON, "model"), not a part of the message. In text, they read as before:
// "model m: <message>" and "[m] <child's line>".
#pragma once

#include <spdlog/logger.h>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

namespace gradatum::logging {

enum class Format { text, json };

struct Settings {
    std::string level = "info";  // trace, debug, info, warn, error, off
    Format format = Format::text;
    // Empty: stderr only. Else this file, rotated by size, and stderr gets warnings and errors.
    std::string file;
    size_t max_size_bytes = 100u * 1024 * 1024;  // a file is rotated when it would grow past this
    size_t max_files = 5;                        // rotated files kept: FILE.1 ... FILE.<max_files>
};

// The log file could not be opened. what() names the path and the reason.
class FileError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Installs the logger (text, stderr) as spdlog's default. Call once, before any thread logs.
void init();

// Applies the configured format, level and file; call before other threads log. Throws
// FileError when the file cannot be opened (the logger is then unchanged).
void configure(const Settings& settings);

// A logger for the lines about model `name` (the supervisor's): text "model <name>: ...".
std::shared_ptr<spdlog::logger> for_model(const std::string& name);
// A logger for the lines the model's child prints, relayed: text "[<name>] ...".
std::shared_ptr<spdlog::logger> for_child(const std::string& name);
// A logger for lines about model `name` whose message names it already: text without a prefix
// (e.g. "loading m: 5 s").
std::shared_ptr<spdlog::logger> for_model_plain(const std::string& name);

// Lines dropped since the last call (0 if none, or before init()).
size_t take_dropped();
// Lines dropped since init(), for the metrics.
size_t dropped_total();

// Writes out what is queued and stops the logging thread; call before the process exits. Later
// lines are written synchronously.
void shutdown();

}  // namespace gradatum::logging
