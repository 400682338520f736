#include "ops/metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "supervisor/model_supervisor.hpp"

namespace gradatum::ops {

namespace {

const char* const kRoutes[] = {"/v1/chat/completions",
                               "/v1/completions",
                               "/v1/embeddings",
                               "/v1/models",
                               "/completion",
                               "/embedding",
                               "/tokenize",
                               "/detokenize",
                               "/props",
                               "/slots",
                               "/health",
                               "/metrics"};

std::string escape(const std::string& value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string number(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
    return buffer;
}

void header(std::ostringstream& out, const char* name, const char* type, const char* help) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

}  // namespace

std::string_view route_label(std::string_view path) {
    for (const char* route : kRoutes) {
        if (path == route) return route;
    }
    if (path.rfind("/admin/", 0) == 0) return "/admin";
    if (path == "/" || path.rfind("/assets/", 0) == 0 || path.rfind("/index.html", 0) == 0) {
        return "/ui";
    }
    return "other";
}

void Metrics::Histogram::observe(double seconds) {
    size_t i = 0;
    while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
    ++counts[i];
    sum += seconds;
    ++count;
}

Metrics::Metrics(std::vector<std::string> models) {
    names_.push_back("");  // index 0: the engine's own answers
    for (auto& name : models) names_.push_back(std::move(name));
    per_model_.resize(names_.size());
}

int Metrics::model_index(std::string_view name) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 1; i < names_.size(); ++i) {
        if (names_[i] == name) return static_cast<int>(i);
    }
    // A model added by a reload; a removed one keeps its counters (they only grow).
    names_.emplace_back(name);
    per_model_.emplace_back();
    return static_cast<int>(names_.size() - 1);
}

void Metrics::record(const Request& r) {
    int status_class = std::clamp(r.status / 100, 1, 5);
    std::lock_guard<std::mutex> lock(mutex_);
    size_t index = r.model > 0 && static_cast<size_t>(r.model) < names_.size()
                       ? static_cast<size_t>(r.model)
                       : 0;
    PerModel& m = per_model_[index];
    ++m.requests[{route_label(r.route), status_class}];
    m.duration.observe(r.seconds);
    if (r.first_byte_s >= 0) m.first_byte.observe(r.first_byte_s);
    m.bytes_in += r.bytes_in;
    m.bytes_out += r.bytes_out;
}

std::string Metrics::render(const std::vector<ModelSupervisor*>& models, size_t busy_threads,
                            size_t dropped_log_lines) const {
    std::ostringstream out;
    auto label = [&](size_t i) {
        return "model=\"" + escape(names_[i].empty() ? "-" : names_[i]) + "\"";
    };
    {
        std::lock_guard<std::mutex> lock(mutex_);
        header(out, "gradatum_requests_total", "counter",
               "Requests answered, by model (\"-\": the engine itself), route and status class.");
        for (size_t i = 0; i < per_model_.size(); ++i) {
            for (const auto& [key, count] : per_model_[i].requests) {
                out << "gradatum_requests_total{" << label(i) << ",route=\"" << key.first
                    << "\",code=\"" << key.second << "xx\"} " << count << '\n';
            }
        }
        auto histogram = [&](const char* name, const char* help, auto member) {
            header(out, name, "histogram", help);
            for (size_t i = 0; i < per_model_.size(); ++i) {
                const Histogram& h = per_model_[i].*member;
                if (h.count == 0) continue;
                uint64_t cumulative = 0;
                for (size_t b = 0; b < kBuckets.size(); ++b) {
                    cumulative += h.counts[b];
                    out << name << "_bucket{" << label(i) << ",le=\"" << number(kBuckets[b])
                        << "\"} " << cumulative << '\n';
                }
                cumulative += h.counts[kBuckets.size()];
                out << name << "_bucket{" << label(i) << ",le=\"+Inf\"} " << cumulative << '\n';
                out << name << "_sum{" << label(i) << "} " << number(h.sum) << '\n';
                out << name << "_count{" << label(i) << "} " << h.count << '\n';
            }
        };
        histogram("gradatum_request_duration_seconds",
                  "Time from the request head to the end of the answer.", &PerModel::duration);
        histogram("gradatum_time_to_first_byte_seconds",
                  "Time from the request head to the answer's head (the first token of a stream).",
                  &PerModel::first_byte);
        header(out, "gradatum_received_bytes_total", "counter", "Request body bytes received.");
        for (size_t i = 0; i < per_model_.size(); ++i) {
            out << "gradatum_received_bytes_total{" << label(i) << "} " << per_model_[i].bytes_in
                << '\n';
        }
        header(out, "gradatum_sent_bytes_total", "counter", "Response body bytes sent.");
        for (size_t i = 0; i < per_model_.size(); ++i) {
            out << "gradatum_sent_bytes_total{" << label(i) << "} " << per_model_[i].bytes_out
                << '\n';
        }
    }
    std::vector<std::pair<std::string, ModelStatus>> statuses;
    for (auto* model : models) statuses.emplace_back(model->name(), model->status());
    auto per_model_gauge = [&](const char* name, const char* type, const char* help, auto value) {
        header(out, name, type, help);
        for (const auto& [model, s] : statuses) {
            out << name << "{model=\"" << escape(model) << "\"} " << value(s) << '\n';
        }
    };
    per_model_gauge("gradatum_requests_in_flight", "gauge", "Requests being served.",
                    [](const ModelStatus& s) { return s.in_flight; });
    per_model_gauge("gradatum_requests_waiting", "gauge",
                    "Requests waiting for the model to come back (max_waiting at most).",
                    [](const ModelStatus& s) { return s.waiting; });
    header(out, "gradatum_model_state", "gauge", "1 for the state the model is in, else 0.");
    for (const auto& [model, s] : statuses) {
        for (ModelState state : {ModelState::stopped, ModelState::starting, ModelState::ready,
                                 ModelState::backoff, ModelState::failed, ModelState::stopping}) {
            out << "gradatum_model_state{model=\"" << escape(model) << "\",state=\""
                << to_string(state) << "\"} " << (s.state == state ? 1 : 0) << '\n';
        }
    }
    per_model_gauge("gradatum_model_starts_total", "counter", "Children spawned.",
                    [](const ModelStatus& s) { return s.starts; });
    header(out, "gradatum_model_restarts_total", "counter",
           "Restarts the restart policy granted, by what ended the child before.");
    for (const auto& [model, s] : statuses) {
        for (const auto& [reason, count] : s.restarts_by_reason) {
            out << "gradatum_model_restarts_total{model=\"" << escape(model) << "\",reason=\""
                << reason << "\"} " << count << '\n';
        }
    }
    per_model_gauge("gradatum_model_last_exit_code", "gauge",
                    "Exit code of the last child that exited (-1: killed by a signal).",
                    [](const ModelStatus& s) { return s.last_exit_code; });
    per_model_gauge("gradatum_model_last_exit_signal", "gauge",
                    "Signal that killed the last child that exited, or 0.",
                    [](const ModelStatus& s) { return s.last_exit_signal; });
    per_model_gauge("gradatum_model_uptime_seconds", "gauge",
                    "Time since the current child was spawned (0: none).",
                    [](const ModelStatus& s) { return number(s.uptime_ms / 1000.0); });
    per_model_gauge("gradatum_model_load_seconds", "gauge",
                    "How long the last load took, spawn to ready.",
                    [](const ModelStatus& s) { return number(s.last_load_s); });
    header(out, "gradatum_http_busy_threads", "gauge", "Request threads serving a request now.");
    out << "gradatum_http_busy_threads " << busy_threads << '\n';
    header(out, "gradatum_log_dropped_lines_total", "counter",
           "Log lines dropped because stderr did not keep up.");
    out << "gradatum_log_dropped_lines_total " << dropped_log_lines << '\n';
    return out.str();
}

std::string label_exposition(const std::string& text, const std::string& model,
                             std::map<std::string, bool>& seen) {
    std::istringstream in(text);
    std::ostringstream out;
    std::string line;
    const std::string label = "model=\"" + escape(model) + "\"";
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        if (line[0] == '#') {
            // "# HELP name ..." / "# TYPE name ...": once per metric name.
            std::istringstream words(line);
            std::string hash, kind, name;
            words >> hash >> kind >> name;
            std::string key = kind + " " + name;
            if (seen[key]) continue;
            seen[key] = true;
            out << line << '\n';
            continue;
        }
        size_t brace = line.find('{');
        size_t space = line.find(' ');
        if (brace != std::string::npos && brace < space) {
            bool empty = line[brace + 1] == '}';
            out << line.substr(0, brace + 1) << label << (empty ? "" : ",")
                << line.substr(brace + 1) << '\n';
        } else if (space != std::string::npos) {
            out << line.substr(0, space) << '{' << label << '}' << line.substr(space) << '\n';
        }
    }
    return out.str();
}

}  // namespace gradatum::ops
