#include "logging/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace gradatum::logging {

namespace {

// Room for bursts (llama-server prints a few hundred lines while loading) without much memory.
constexpr size_t kQueuedLines = 8192;

// Logger names: the default one, and one per (kind, model). A model name has no ':'.
const std::string kEngineName = "gradatum";
enum class Kind : char { model = 'M', child = 'C', plain = 'P' };

std::string logger_name(Kind kind, const std::string& model) {
    return std::string(1, static_cast<char>(kind)) + ":" + model;
}

void append(spdlog::memory_buf_t& dest, std::string_view text) {
    dest.append(text.data(), text.data() + text.size());
}

// The one formatter of every sink: text as before, or one JSON object per line.
class LineFormatter : public spdlog::formatter {
  public:
    explicit LineFormatter(Format format) : format_(format) {}

    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        std::string_view name(msg.logger_name.data(), msg.logger_name.size());
        Kind kind = Kind::plain;
        std::string_view model;
        if (name.size() > 2 && name[1] == ':') {
            kind = static_cast<Kind>(name[0]);
            model = name.substr(2);
        }
        auto level_name = spdlog::level::to_string_view(msg.level);
        std::string_view level(level_name.data(), level_name.size());
        std::string_view payload(msg.payload.data(), msg.payload.size());
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch())
                      .count() %
                  1000;
        const time_t seconds = spdlog::log_clock::to_time_t(msg.time);
        char stamp[48];
        if (format_ == Format::json) {
            const size_t n = date_and_time(seconds, stamp, sizeof stamp);
            snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(ms));
            nlohmann::ordered_json line;
            line["time"] = stamp;
            line["level"] = std::string(level);
            if (!model.empty()) line["model"] = std::string(model);
            if (kind == Kind::child) line["source"] = "child";
            line["message"] = std::string(payload);
            // A child's bytes need not be UTF-8: replace what is not, never throw.
            append(dest, line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
            append(dest, "\n");
            return;
        }
        const size_t n = date_and_time(seconds, stamp, sizeof stamp);
        snprintf(stamp + n, sizeof stamp - n, ".%03d ", static_cast<int>(ms));
        append(dest, stamp);
        msg.color_range_start = dest.size();
        append(dest, level);
        msg.color_range_end = dest.size();
        append(dest, " ");
        if (!model.empty() && kind == Kind::model) {
            append(dest, "model ");
            append(dest, model);
            append(dest, ": ");
        } else if (!model.empty() && kind == Kind::child) {
            append(dest, "[");
            append(dest, model);
            append(dest, "] ");
        }
        append(dest, payload);
        append(dest, "\n");
    }

    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<LineFormatter>(format_);
    }

  private:
    // The line's date and time to the second (UTC for JSON, local time for text) into `out`;
    // returns its length. Worked out once per second: a busy engine logs thousands of lines in
    // one (a sink calls its formatter under its own lock, so the cache needs none).
    size_t date_and_time(time_t seconds, char* out, size_t capacity) {
        if (seconds != cached_seconds_) {
            tm parts{};
            if (format_ == Format::json) {
                gmtime_r(&seconds, &parts);
            } else {
                localtime_r(&seconds, &parts);
            }
            const char* pattern =
                format_ == Format::json ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S";
            cached_size_ = strftime(cached_, sizeof cached_, pattern, &parts);
            cached_seconds_ = seconds;
        }
        const size_t n = std::min(cached_size_, capacity - 1);
        std::memcpy(out, cached_, n);
        out[n] = '\0';
        return n;
    }

    Format format_;
    time_t cached_seconds_ = -1;
    char cached_[32] = {};
    size_t cached_size_ = 0;
};

// Standard error when it is not a terminal (a pipe to journald or docker, a redirect): lines are
// gathered and written with one write() when the logging thread has nothing left to do (see
// PacingSink) or 64 KiB have gathered, not one write() per line (one per request, with the
// access log on). A terminal keeps spdlog's colour sink, line by line.
class BatchedStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    ~BatchedStderrSink() override { flush_(); }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        formatter_->format(msg, pending_);
        if (pending_.size() >= kBatch) flush_();
    }
    void flush_() override {
        const char* data = pending_.data();
        size_t left = pending_.size();
        while (left > 0) {
            const ssize_t n = ::write(STDERR_FILENO, data, left);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // nowhere to write: drop the lines, never block the engine
            data += n;
            left -= static_cast<size_t>(n);
        }
        pending_.clear();
    }

  private:
    static constexpr size_t kBatch = 64 * 1024;
    spdlog::memory_buf_t pending_;
};

spdlog::sink_ptr console_sink() {
    if (::isatty(STDERR_FILENO)) return std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    return std::make_shared<BatchedStderrSink>();
}

// The last sink of every asynchronous logger, run on the logging thread after each line: when
// the queue is empty it flushes the other sinks (the console's gathered lines, the log file's
// buffer: one write each), then sleeps a little before the thread waits for the next line.
// While it sleeps, the lines of a busy engine (one access line per request) queue up without
// waking it, so it wakes and writes about once per pause instead of once per line. No line
// waits longer than kPause for its turn, nor stays unwritten once the queue is empty.
class PacingSink final : public spdlog::sinks::sink {
  public:
    static constexpr std::chrono::microseconds kPause{1000};
    PacingSink(spdlog::details::thread_pool& pool, std::vector<spdlog::sink_ptr> sinks)
        : pool_(pool), sinks_(std::move(sinks)) {}
    void log(const spdlog::details::log_msg&) override {
        if (pool_.queue_size() != 0) return;
        for (auto& sink : sinks_) sink->flush();
        std::this_thread::sleep_for(kPause);
    }
    void flush() override {}
    void set_pattern(const std::string&) override {}
    void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

  private:
    spdlog::details::thread_pool& pool_;
    const std::vector<spdlog::sink_ptr> sinks_;  // the logger's others
};

std::mutex g_mutex;  // guards everything below but g_pool's counter
std::shared_ptr<spdlog::details::thread_pool> g_pool;
std::vector<spdlog::sink_ptr> g_sinks;
spdlog::level::level_enum g_level = spdlog::level::info;
bool g_async = false;
// Kept for the life of the process: spdlog's free functions use a raw pointer to the default
// logger, so a thread that logs while shutdown() swaps it must not find it freed. The same for
// the model loggers: a caller may hold one while shutdown() replaces it.
std::shared_ptr<spdlog::logger> g_logger;
std::shared_ptr<PacingSink> g_pacer;  // of g_pool and g_sinks
std::map<std::string, std::shared_ptr<spdlog::logger>> g_models;
std::vector<std::shared_ptr<spdlog::logger>> g_retired;
size_t g_reported = 0;  // overruns already returned by take_dropped()

std::shared_ptr<spdlog::logger> make_logger(const std::string& name) {
    std::shared_ptr<spdlog::logger> logger;
    if (g_async) {
        std::vector<spdlog::sink_ptr> sinks = g_sinks;
        sinks.push_back(g_pacer);
        logger =
            std::make_shared<spdlog::async_logger>(name, sinks.begin(), sinks.end(), g_pool,
                                                   spdlog::async_overflow_policy::overrun_oldest);
    } else {
        logger = std::make_shared<spdlog::logger>(name, g_sinks.begin(), g_sinks.end());
        logger->flush_on(spdlog::level::trace);  // no pacer to flush a late line
    }
    logger->set_level(g_level);
    return logger;
}

// Rebuilds the default logger and every model logger over the current sinks (under g_mutex).
void rebuild_loggers() {
    if (g_async) g_pacer = std::make_shared<PacingSink>(*g_pool, g_sinks);
    if (g_logger) g_retired.push_back(g_logger);
    g_logger = make_logger(kEngineName);
    spdlog::set_default_logger(g_logger);
    for (auto& [name, logger] : g_models) {
        g_retired.push_back(logger);
        logger = make_logger(name);
    }
}

std::shared_ptr<spdlog::logger> logger_for(Kind kind, const std::string& model) {
    std::string name = logger_name(kind, model);
    std::lock_guard<std::mutex> lock(g_mutex);
    // The level may have been changed through spdlog::set_level (it sets the default logger's).
    if (g_logger) g_level = g_logger->level();
    auto& logger = g_models[name];
    if (!logger) logger = make_logger(name);
    logger->set_level(g_level);
    return logger;
}

}  // namespace

void init() {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_pool = std::make_shared<spdlog::details::thread_pool>(kQueuedLines, 1);
    auto console = console_sink();
    console->set_formatter(std::make_unique<LineFormatter>(Format::text));
    g_sinks = {console};
    g_async = true;
    rebuild_loggers();
}

void configure(const Settings& settings) {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::vector<spdlog::sink_ptr> sinks;
    auto console = console_sink();
    sinks.push_back(console);
    if (!settings.file.empty()) {
        try {
            sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
                settings.file, settings.max_size_bytes, settings.max_files));
        } catch (const std::exception& e) {
            throw FileError("cannot open '" + settings.file + "': " + e.what());
        }
        console->set_level(spdlog::level::warn);
    }
    for (auto& sink : sinks) sink->set_formatter(std::make_unique<LineFormatter>(settings.format));
    g_sinks = std::move(sinks);
    g_level = spdlog::level::from_str(settings.level);
    rebuild_loggers();
}

std::shared_ptr<spdlog::logger> for_model(const std::string& name) {
    return logger_for(Kind::model, name);
}

std::shared_ptr<spdlog::logger> for_child(const std::string& name) {
    return logger_for(Kind::child, name);
}

std::shared_ptr<spdlog::logger> for_model_plain(const std::string& name) {
    return logger_for(Kind::plain, name);
}

size_t take_dropped() {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_pool) return 0;
    size_t total = g_pool->overrun_counter();
    size_t fresh = total - g_reported;
    g_reported = total;
    return fresh;
}

size_t dropped_total() {
    return g_pool ? g_pool->overrun_counter() : 0;
}

void shutdown() {
    std::shared_ptr<spdlog::details::thread_pool> pool;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        if (!g_pool) return;
        // Late lines go straight to the sinks, synchronously.
        g_level = g_logger->level();
        g_async = false;
        rebuild_loggers();
        pool = std::move(g_pool);
    }
    // The pool's destructor writes out the queue and joins (outside the lock: a queued line's
    // sink may be slow).
    pool.reset();
    // The pacer flushes when the queue is empty, but the pool's last message is its own stop.
    std::lock_guard<std::mutex> lock(g_mutex);
    for (auto& sink : g_sinks) sink->flush();
}

}  // namespace gradatum::logging
