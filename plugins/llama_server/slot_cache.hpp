// keep_cache for llama-server: before a planned stop, every slot that holds a conversation is
// saved with llama-server's slot API (POST /slots/<id>?action=save, into --slot-save-path = the
// engine's cache directory for the model); the next child restores them before it is marked
// ready. A manifest (slots.json) says which files belong to which slot and which child wrote
// them: a child started with another model file, binary or arguments (context size, parallel
// slots, cache types...) never gets them. The manifest is consumed by the restore, so a crash
// afterwards restores nothing stale.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "settings.hpp"

namespace llama_server {

struct HttpRequest {
    std::string method, path, body;  // a body is JSON
};
struct HttpAnswer {
    int status = 0;  // 0: no answer
    std::string body;
};

// What must match for a saved cache to be restored: the binary, the model (and projector)
// file, and every argument that is not per spawn (host, port, key).
nlohmann::json child_identity(const Settings& settings);

class SlotCache {
  public:
    // level: a ge_log_level
    using Log = std::function<void(int level, const std::string& message)>;
    explicit SlotCache(Log log) : log_(std::move(log)) {}

    // A child is about to start: its cache directory ("" = keep_cache off) and identity.
    void prepare(std::string dir, nlohmann::json identity);
    bool enabled() const { return !dir_.empty(); }

    // One step of a handover conversation (plugin_abi.h, handover_step): the next request, or
    // nothing when done. `previous` is null on the first call.
    std::optional<HttpRequest> save_step(const HttpAnswer* previous);
    std::optional<HttpRequest> restore_step(const HttpAnswer* previous);

    static constexpr const char* kManifest = "slots.json";

  private:
    struct Slot {
        int id = 0;
        std::string file;
        long long tokens = 0;
        long long bytes = 0;
    };
    // The answer to the action on pending_.front(), which leaves the queue: its JSON when it
    // succeeded (the slot is then done_.back()), else nothing (logged: "not <done>").
    std::optional<nlohmann::json> take_answer(const HttpAnswer& answer, const char* done);
    std::optional<HttpRequest> next_save();
    std::optional<HttpRequest> finish_save();
    std::optional<HttpRequest> next_restore();
    std::optional<HttpRequest> finish_restore();
    std::string path(const std::string& file) const { return dir_ + "/" + file; }
    void write_manifest() const;

    Log log_;
    std::string dir_;
    nlohmann::json identity_;
    std::set<int> restored_;  // slots of this child that hold a restored conversation
    enum class Phase { idle, listing, saving, restoring } phase_ = Phase::idle;
    std::vector<Slot> pending_, done_;
    std::string saved_at_;
    std::chrono::steady_clock::time_point started_{};
};

}  // namespace llama_server
