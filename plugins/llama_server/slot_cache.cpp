#include "slot_cache.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "argv_builder.hpp"
#include "gradatum/plugin_abi.h"

namespace llama_server {

namespace {

using nlohmann::json;

json file_identity(const std::string& path) {
    json id = {{"path", path}};
    char resolved[4096];
    if (realpath(path.c_str(), resolved)) id["path"] = resolved;
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
        id["bytes"] = static_cast<long long>(st.st_size);
        id["mtime_ns"] =
            static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
    }
    return id;
}

std::string utc_now() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

std::string megabytes(long long bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / (1 << 20));
    return text;
}

long long ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
}

std::string shorten(const std::string& text) {
    return text.size() <= 200 ? text : text.substr(0, 200) + "...";
}

std::string slot_file(int id) {
    return "slot-" + std::to_string(id) + ".bin";
}

HttpRequest slot_action(int id, const char* action, const std::string& file) {
    return {"POST", "/slots/" + std::to_string(id) + "?action=" + action,
            json{{"filename", file}}.dump()};
}

// Why a cache saved by `saved` must not go into `now`, or "" when it may.
std::string mismatch(const json& saved, const json& now) {
    if (saved.value("model", json()) != now.value("model", json())) return "another model file";
    if (saved.value("mmproj", json()) != now.value("mmproj", json()))
        return "another projector file";
    if (saved.value("binary", json()) != now.value("binary", json()))
        return "another llama-server binary";
    if (saved.value("args", json()) != now.value("args", json()))
        return "other llama-server arguments (" + saved.value("args", json()).dump() + ", now " +
               now.value("args", json()).dump() + ")";
    return "";
}

}  // namespace

json child_identity(const Settings& settings) {
    // build_argv starts with the binary, --model <file>, --host <h>, --port <p>: the rest is
    // what the user chose, per model.
    auto argv = build_argv(settings, "", 0);
    json identity = {{"binary", file_identity(settings.binary)},
                     {"model", file_identity(settings.model)},
                     {"args", std::vector<std::string>(argv.begin() + 7, argv.end())}};
    if (settings.mmproj) identity["mmproj"] = file_identity(*settings.mmproj);
    return identity;
}

void SlotCache::prepare(std::string dir, json identity) {
    dir_ = std::move(dir);
    identity_ = std::move(identity);
    restored_.clear();
    phase_ = Phase::idle;
}

std::optional<HttpRequest> SlotCache::save_step(const HttpAnswer* previous) {
    if (!enabled()) return std::nullopt;
    if (!previous) {
        // Until this save is complete, no manifest: a half-written cache is never restored.
        unlink(path(kManifest).c_str());
        phase_ = Phase::listing;
        pending_.clear();
        done_.clear();
        started_ = std::chrono::steady_clock::now();
        return HttpRequest{"GET", "/slots", ""};
    }
    if (phase_ == Phase::listing) {
        phase_ = Phase::idle;
        if (previous->status != 200) {
            log_(GE_LOG_WARN, "keep_cache: GET /slots answered " +
                                  std::to_string(previous->status) + " " + shorten(previous->body) +
                                  "; nothing saved");
            return std::nullopt;
        }
        json slots = json::parse(previous->body, nullptr, false);
        if (!slots.is_array()) {
            log_(GE_LOG_WARN, "keep_cache: GET /slots is not a JSON array; nothing saved");
            return std::nullopt;
        }
        for (const auto& slot : slots) {
            if (!slot.is_object() || !slot.contains("id")) continue;
            int id = slot.value("id", 0);
            long long tokens = slot.value("n_prompt_tokens", 0LL);
            if (tokens <= 0 && !restored_.count(id)) continue;  // never used: nothing to keep
            if (slot.value("is_processing", false)) {
                log_(GE_LOG_INFO,
                     "keep_cache: slot " + std::to_string(id) + " is still generating; not saved");
                continue;
            }
            pending_.push_back({id, slot_file(id), tokens, 0});
        }
        if (pending_.empty()) {
            log_(GE_LOG_INFO, "keep_cache: no conversation in any slot; nothing to save");
            return std::nullopt;
        }
        phase_ = Phase::saving;
        return next_save();
    }
    if (phase_ != Phase::saving || pending_.empty()) return std::nullopt;
    if (auto answer = take_answer(*previous, "saved")) {
        Slot& slot = done_.back();
        slot.tokens = answer->value("n_saved", slot.tokens);
        slot.bytes = answer->value("n_written", 0LL);
    }
    return pending_.empty() ? finish_save() : next_save();
}

std::optional<json> SlotCache::take_answer(const HttpAnswer& answer, const char* done) {
    Slot slot = pending_.front();
    pending_.erase(pending_.begin());
    json body = json::parse(answer.body, nullptr, false);
    if (answer.status == 200 && body.is_object()) {
        done_.push_back(slot);
        return body;
    }
    log_(GE_LOG_WARN,
         "keep_cache: slot " + std::to_string(slot.id) + " not " + done + ": " +
             (answer.status == 0 ? std::string("no answer")
                                 : std::to_string(answer.status) + " " + shorten(answer.body)));
    return std::nullopt;
}

std::optional<HttpRequest> SlotCache::next_save() {
    return slot_action(pending_.front().id, "save", pending_.front().file);
}

std::optional<HttpRequest> SlotCache::finish_save() {
    phase_ = Phase::idle;
    if (done_.empty()) return std::nullopt;
    saved_at_ = utc_now();
    write_manifest();
    long long tokens = 0, bytes = 0;
    for (const auto& slot : done_) {
        tokens += slot.tokens;
        bytes += slot.bytes;
    }
    log_(GE_LOG_INFO, "keep_cache: saved " + std::to_string(done_.size()) + " slot(s), " +
                          std::to_string(tokens) + " tokens, " + megabytes(bytes) + " in " +
                          std::to_string(ms_since(started_)) + " ms, for the next start");
    return std::nullopt;
}

void SlotCache::write_manifest() const {
    json slots = json::array();
    for (const auto& slot : done_) {
        slots.push_back(
            {{"id", slot.id}, {"file", slot.file}, {"tokens", slot.tokens}, {"bytes", slot.bytes}});
    }
    json manifest = {
        {"version", 1}, {"saved_at", saved_at_}, {"identity", identity_}, {"slots", slots}};
    // Written whole, then renamed: a reader never sees half a manifest.
    std::string tmp = path(std::string(kManifest) + ".tmp");
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << manifest.dump(2) << "\n";
        if (!out) {
            log_(GE_LOG_WARN,
                 "keep_cache: cannot write " + tmp + "; the cache will not be restored");
            return;
        }
    }
    if (std::rename(tmp.c_str(), path(kManifest).c_str()) != 0) {
        log_(GE_LOG_WARN, "keep_cache: cannot write " + path(kManifest));
    }
}

std::optional<HttpRequest> SlotCache::restore_step(const HttpAnswer* previous) {
    if (!enabled()) return std::nullopt;
    if (!previous) {
        phase_ = Phase::idle;
        pending_.clear();
        done_.clear();
        started_ = std::chrono::steady_clock::now();
        std::ifstream in(path(kManifest));
        if (!in) return std::nullopt;  // nothing saved (or a crash consumed nothing)
        std::stringstream text;
        text << in.rdbuf();
        json manifest = json::parse(text.str(), nullptr, false);
        // Consumed now, whatever follows: it describes this save only.
        unlink(path(kManifest).c_str());
        if (!manifest.is_object() || !manifest.contains("slots")) {
            log_(GE_LOG_WARN, "keep_cache: " + path(kManifest) + " is not a manifest; ignored");
            return std::nullopt;
        }
        saved_at_ = manifest.value("saved_at", std::string("?"));
        std::string why = mismatch(manifest.value("identity", json::object()), identity_);
        if (!why.empty()) {
            log_(GE_LOG_INFO, "keep_cache: not restoring the cache saved at " + saved_at_ +
                                  ": it was saved by a child with " + why);
            return std::nullopt;
        }
        for (const auto& slot : manifest["slots"]) {
            Slot s{slot.value("id", 0), slot.value("file", std::string()),
                   slot.value("tokens", 0LL), slot.value("bytes", 0LL)};
            struct stat st {};
            if (s.file.empty() || s.file.find('/') != std::string::npos ||
                stat(path(s.file).c_str(), &st) != 0) {
                log_(GE_LOG_WARN, "keep_cache: the file of slot " + std::to_string(s.id) +
                                      " is gone (over cache_max_mb?); not restored");
                continue;
            }
            pending_.push_back(s);
        }
        if (pending_.empty()) return std::nullopt;
        phase_ = Phase::restoring;
        return next_restore();
    }
    if (phase_ != Phase::restoring || pending_.empty()) return std::nullopt;
    if (auto answer = take_answer(*previous, "restored")) {
        Slot& slot = done_.back();
        slot.tokens = answer->value("n_restored", slot.tokens);
        restored_.insert(slot.id);
    }
    return pending_.empty() ? finish_restore() : next_restore();
}

std::optional<HttpRequest> SlotCache::next_restore() {
    return slot_action(pending_.front().id, "restore", pending_.front().file);
}

std::optional<HttpRequest> SlotCache::finish_restore() {
    phase_ = Phase::idle;
    if (done_.empty()) return std::nullopt;
    long long tokens = 0;
    for (const auto& slot : done_) tokens += slot.tokens;
    log_(GE_LOG_INFO, "keep_cache: restored " + std::to_string(done_.size()) + " slot(s), " +
                          std::to_string(tokens) + " tokens, saved at " + saved_at_ + ", in " +
                          std::to_string(ms_since(started_)) + " ms");
    return std::nullopt;
}

}  // namespace llama_server
