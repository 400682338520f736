#include "logging/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <mutex>

namespace gradatum::logging {

namespace {

// Room for bursts (llama-server prints a few hundred lines while loading) without much memory.
constexpr size_t kQueuedLines = 8192;

std::shared_ptr<spdlog::details::thread_pool> g_pool;
// Kept for the life of the process: spdlog's free functions use a raw pointer to the default
// logger, so a thread that logs while shutdown() swaps it must not find it freed.
std::shared_ptr<spdlog::logger> g_logger;
std::mutex g_reported_mutex;
size_t g_reported = 0;  // overruns already returned by take_dropped()

}  // namespace

void init() {
    g_pool = std::make_shared<spdlog::details::thread_pool>(kQueuedLines, 1);
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    g_logger = std::make_shared<spdlog::async_logger>(
        "gradatum", sink, g_pool, spdlog::async_overflow_policy::overrun_oldest);
    g_logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    spdlog::set_default_logger(g_logger);
}

size_t take_dropped() {
    if (!g_pool) return 0;
    std::lock_guard<std::mutex> lock(g_reported_mutex);
    size_t total = g_pool->overrun_counter();
    size_t fresh = total - g_reported;
    g_reported = total;
    return fresh;
}

size_t dropped_total() {
    return g_pool ? g_pool->overrun_counter() : 0;
}

void shutdown() {
    if (!g_pool) return;
    // Late lines go straight to stderr; the pool's destructor writes out the queue and joins.
    auto late = std::make_shared<spdlog::logger>(
        "gradatum-exit", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    late->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    late->set_level(g_logger->level());
    spdlog::set_default_logger(late);
    g_pool.reset();
}

}  // namespace gradatum::logging
