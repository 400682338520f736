// Strict parsers for config values, shared by the engine and its plugins (header-only C++17, so
// a plugin needs nothing but this directory). Trailing garbage, signs where none belong, and
// out-of-range values are rejected rather than guessed at: a typo must not become a setting.
#pragma once

#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>

namespace gradatum::config_values {

// The longest duration any setting may have. Longer ones are typos, and would overflow the
// millisecond arithmetic of timers (undefined behaviour, or a wait that silently never waits).
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::hours(24 * 30);

inline std::string_view trim(std::string_view text) {
    auto begin = text.find_first_not_of(" \t\r\n");
    if (begin == std::string_view::npos) return {};
    auto end = text.find_last_not_of(" \t\r\n");
    return text.substr(begin, end - begin + 1);
}

// A whole number in decimal, e.g. "42" or "-1".
inline std::optional<long long> parse_integer(std::string_view raw) {
    std::string_view text = trim(raw);
    long long value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) return {};
    return value;
}

// true/false, yes/no, on/off, 1/0, in any case.
inline std::optional<bool> parse_bool(std::string_view raw) {
    std::string text(trim(raw));
    for (auto& c : text) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (text == "true" || text == "yes" || text == "on" || text == "1") return true;
    if (text == "false" || text == "no" || text == "off" || text == "0") return false;
    return {};
}

// Seconds, decimals allowed ("2.5"), from 0 to kMaxDuration. A positive value below 1 ms becomes
// 1 ms: truncated to 0 it would mean "no timeout" to Poco, or "do not wait" to a timer.
inline std::optional<std::chrono::milliseconds> parse_duration(std::string_view raw) {
    std::string_view text = trim(raw);
    double seconds = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(seconds) || seconds < 0 ||
        seconds > static_cast<double>(kMaxDuration.count()) / 1000) {
        return {};
    }
    auto ms = static_cast<long long>(std::llround(seconds * 1000));
    if (ms == 0 && seconds > 0) ms = 1;
    return std::chrono::milliseconds(ms);
}

// The inverse, for messages: 2500 ms -> "2.5 s".
inline std::string format_seconds(std::chrono::milliseconds ms) {
    std::string text = std::to_string(ms.count() / 1000);
    if (auto rest = ms.count() % 1000) {
        std::string fraction = std::to_string(1000 + rest).substr(1);
        text += "." + fraction.substr(0, fraction.find_last_not_of('0') + 1);
    }
    return text + " s";
}

inline std::string duration_expectation() {
    return "expected a number of seconds from 0 to " + std::to_string(kMaxDuration.count() / 1000) +
           " (30 days)";
}

}  // namespace gradatum::config_values
