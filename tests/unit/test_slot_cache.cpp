// keep_cache's policy for llama-server (plugins/llama_server/slot_cache): which requests the
// plugin asks the core to send, what it writes and when it refuses to restore. The real
// llama-server's side is in tests/integration/test_real_keep_cache.cpp.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "slot_cache.hpp"
#include "temp_dir.hpp"

using llama_server::HttpAnswer;
using llama_server::HttpRequest;
using llama_server::SlotCache;
using nlohmann::json;

namespace {

struct Logged {
    std::vector<std::string> lines;
    SlotCache::Log sink() {
        return [this](int, const std::string& line) { lines.push_back(line); };
    }
    bool has(const std::string& text) const {
        for (const auto& line : lines)
            if (line.find(text) != std::string::npos) return true;
        return false;
    }
};

const json kIdentity = {{"model", {{"path", "/m.gguf"}, {"bytes", 10}}},
                        {"args", {"--ctx-size", "4096"}}};

HttpAnswer ok(const json& body) {
    return {200, body.dump()};
}

json slots(std::vector<json> list) {
    return json(list);
}

bool exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

// Runs a whole save: `list` answers GET /slots, every save answers `save_status`.
std::vector<HttpRequest> save(SlotCache& cache, const json& list, int save_status = 200) {
    std::vector<HttpRequest> sent;
    auto next = cache.save_step(nullptr);
    while (next) {
        sent.push_back(*next);
        HttpAnswer answer;
        if (next->path == "/slots") {
            answer = ok(list);
        } else {
            answer = {save_status, save_status == 200
                                       ? json{{"n_saved", 123}, {"n_written", 4567}}.dump()
                                       : R"({"error":{"message":"boom"}})"};
        }
        next = cache.save_step(&answer);
    }
    return sent;
}

std::vector<HttpRequest> restore(SlotCache& cache, int status = 200) {
    std::vector<HttpRequest> sent;
    auto next = cache.restore_step(nullptr);
    while (next) {
        sent.push_back(*next);
        HttpAnswer answer{status, status == 200 ? json{{"n_restored", 123}}.dump() : "{}"};
        next = cache.restore_step(&answer);
    }
    return sent;
}

// What llama-server writes for a save: the file named in the request.
void write_slot_files(const ge_test::TempDir& dir, const std::vector<HttpRequest>& sent) {
    for (const auto& r : sent) {
        if (r.method == "POST") dir.write(json::parse(r.body)["filename"], "kv");
    }
}

}  // namespace

TEST_CASE("slot cache: off without a directory", "[unit][keep_cache]") {
    Logged log;
    SlotCache cache(log.sink());
    cache.prepare("", json());
    CHECK_FALSE(cache.save_step(nullptr));
    CHECK_FALSE(cache.restore_step(nullptr));
}

TEST_CASE("slot cache: saves the used, idle slots and restores them into the same child",
          "[unit][keep_cache]") {
    ge_test::TempDir dir;
    Logged log;
    SlotCache cache(log.sink());
    cache.prepare(dir.path(), kIdentity);
    auto sent = save(cache, slots({{{"id", 0}, {"n_prompt_tokens", 50}, {"is_processing", false}},
                                   {{"id", 1}},  // never used
                                   {{"id", 2}, {"n_prompt_tokens", 9}, {"is_processing", true}},
                                   {{"id", 3}, {"n_prompt_tokens", 7}}}));
    REQUIRE(sent.size() == 3);
    CHECK(sent[0].method == "GET");
    CHECK(sent[1].path == "/slots/0?action=save");
    CHECK(json::parse(sent[1].body) == json{{"filename", "slot-0.bin"}});
    CHECK(sent[2].path == "/slots/3?action=save");
    CHECK(log.has("slot 2 is still generating; not saved"));
    CHECK(log.has("saved 2 slot(s), 246 tokens"));
    write_slot_files(dir, sent);
    REQUIRE(exists(dir.path() + "/slots.json"));

    SlotCache next_child(log.sink());
    next_child.prepare(dir.path(), kIdentity);
    auto restored = restore(next_child);
    REQUIRE(restored.size() == 2);
    CHECK(restored[0].path == "/slots/0?action=restore");
    CHECK(restored[1].path == "/slots/3?action=restore");
    CHECK(log.has("restored 2 slot(s), 246 tokens"));
    // Consumed: a crash of this child must not bring the old state back.
    CHECK_FALSE(exists(dir.path() + "/slots.json"));
    CHECK(restore(next_child).empty());
}

TEST_CASE("slot cache: a restored slot is saved again even before a request used it",
          "[unit][keep_cache]") {
    ge_test::TempDir dir;
    Logged log;
    SlotCache cache(log.sink());
    cache.prepare(dir.path(), kIdentity);
    write_slot_files(dir, save(cache, slots({{{"id", 0}, {"n_prompt_tokens", 50}}})));
    cache.prepare(dir.path(), kIdentity);
    REQUIRE(restore(cache).size() == 1);
    // llama-server lists a restored slot without n_prompt_tokens (no task ran in it yet).
    auto sent = save(cache, slots({{{"id", 0}, {"is_processing", false}}}));
    REQUIRE(sent.size() == 2);
    CHECK(sent[1].path == "/slots/0?action=save");
}

TEST_CASE("slot cache: never restores into a child with other arguments or another model",
          "[unit][keep_cache]") {
    for (const auto& [what, changed] : std::vector<std::pair<std::string, json>>{
             {"other llama-server arguments",
              {{"model", kIdentity["model"]}, {"args", {"--ctx-size", "2048"}}}},
             {"another model file",
              {{"model", {{"path", "/m.gguf"}, {"bytes", 11}}}, {"args", kIdentity["args"]}}}}) {
        DYNAMIC_SECTION(what) {
            ge_test::TempDir dir;
            Logged log;
            SlotCache cache(log.sink());
            cache.prepare(dir.path(), kIdentity);
            write_slot_files(dir, save(cache, slots({{{"id", 0}, {"n_prompt_tokens", 5}}})));
            cache.prepare(dir.path(), changed);
            CHECK(restore(cache).empty());
            CHECK(log.has("not restoring the cache saved at"));
            CHECK(log.has(what));
            CHECK_FALSE(exists(dir.path() + "/slots.json"));
        }
    }
}

TEST_CASE("slot cache: a save that failed or a file that is gone is not restored",
          "[unit][keep_cache]") {
    ge_test::TempDir dir;
    Logged log;
    SlotCache cache(log.sink());
    cache.prepare(dir.path(), kIdentity);
    SECTION("every save failed: no manifest") {
        save(cache, slots({{{"id", 0}, {"n_prompt_tokens", 5}}}), 500);
        CHECK(log.has("slot 0 not saved: 500"));
        CHECK_FALSE(exists(dir.path() + "/slots.json"));
        CHECK(restore(cache).empty());
    }
    SECTION("GET /slots failed: the old manifest is gone too") {
        write_slot_files(dir, save(cache, slots({{{"id", 0}, {"n_prompt_tokens", 5}}})));
        REQUIRE(exists(dir.path() + "/slots.json"));
        auto listing = cache.save_step(nullptr);
        REQUIRE(listing);
        CHECK(listing->path == "/slots");
        HttpAnswer refused{501, "no slots endpoint"};
        CHECK_FALSE(cache.save_step(&refused));
        CHECK(log.has("GET /slots answered 501"));
        CHECK_FALSE(exists(dir.path() + "/slots.json"));
    }
    SECTION("the slot's file was dropped (cache_max_mb)") {
        save(cache, slots({{{"id", 0}, {"n_prompt_tokens", 5}}}));  // no file written
        CHECK(restore(cache).empty());
        CHECK(log.has("the file of slot 0 is gone"));
    }
    SECTION("a restore the child refuses is reported") {
        write_slot_files(dir, save(cache, slots({{{"id", 0}, {"n_prompt_tokens", 5}}})));
        CHECK(restore(cache, 400).size() == 1);
        CHECK(log.has("slot 0 not restored: 400"));
        CHECK_FALSE(log.has("restored 1 slot(s)"));
    }
}

TEST_CASE("slot cache: the child's identity is its binary, model file and own arguments",
          "[unit][keep_cache]") {
    ge_test::TempDir dir;
    llama_server::Settings s;
    s.binary = dir.write("llama-server", "x");
    s.model = dir.write("m.gguf", "gguf");
    s.ctx_size = 4096;
    s.parallel = 2;
    json identity = llama_server::child_identity(s);
    CHECK(identity["model"]["bytes"] == 4);
    CHECK(identity["binary"]["bytes"] == 1);
    CHECK(identity["args"] == json{"--ctx-size", "4096", "--parallel", "2"});
    s.ctx_size = 2048;
    CHECK(llama_server::child_identity(s) != identity);
}
