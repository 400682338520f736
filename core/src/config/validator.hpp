// The config loader's typed readers over the raw keys, in two modes: throw at the first error
// (load_config), or collect every problem and go on with the defaults (check_config, --check).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "gradatum/config_values.hpp"

namespace gradatum::config {

class Validator {
  public:
    // `problems`: collect (--check) instead of throwing at the first error.
    Validator(std::string file, std::map<std::string, std::string> raw,
              std::vector<std::string>* problems = nullptr)
        : file_(std::move(file)), raw_(std::move(raw)), problems_(problems) {}

    [[noreturn]] void fail(const std::string& key, const std::string& message) const {
        throw ConfigError(config_error_text(file_, key, message));
    }

    // Like fail(), but when collecting the problem is recorded and the caller goes on with
    // its fallback.
    void report(const std::string& key, const std::string& message) const {
        if (!problems_) fail(key, message);
        problems_->push_back(config_error_text(file_, key, message));
    }

    // Runs one check that stands on its own. When collecting, its first failure is recorded
    // and the checks after it still run; otherwise the failure propagates.
    template <typename Check>
    void attempt(Check&& check) const {
        if (!problems_) return check();
        try {
            check();
        } catch (const ConfigError& e) {
            problems_->push_back(e.what());
        }
    }

    const std::map<std::string, std::string>& raw() const { return raw_; }

    // `positive`: 0 is refused too (a timer that fires at once, a timeout that never waits).
    std::chrono::milliseconds duration(const std::string& key, std::chrono::milliseconds fallback,
                                       bool positive = false) const {
        auto it = raw_.find(key);
        if (it == raw_.end()) return fallback;
        auto value = config_values::parse_duration(it->second);
        if (!value) {
            report(key, config_values::duration_expectation() + ", got '" + it->second + "'");
            return fallback;
        }
        if (positive && value->count() == 0) {
            report(key, "must be above 0");
            return fallback;
        }
        return *value;
    }

    bool boolean(const std::string& key, bool fallback) const {
        auto it = raw_.find(key);
        if (it == raw_.end()) return fallback;
        auto value = config_values::parse_bool(it->second);
        if (!value) {
            report(key, "expected true or false, got '" + it->second + "'");
            return fallback;
        }
        return *value;
    }

    long long integer(const std::string& key, long long fallback, long long min,
                      long long max) const {
        auto it = raw_.find(key);
        if (it == raw_.end()) return fallback;
        auto value = config_values::parse_integer(it->second);
        if (!value || *value < min || *value > max) {
            report(key, "expected a whole number from " + std::to_string(min) + " to " +
                            std::to_string(max) + ", got '" + it->second + "'");
            return fallback;
        }
        return *value;
    }

  private:
    std::string file_;
    std::map<std::string, std::string> raw_;
    std::vector<std::string>* problems_;
};

}  // namespace gradatum::config
