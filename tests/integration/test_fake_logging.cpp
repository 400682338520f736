// The engine's log against the fake llama-server: the JSON format, the rotated log file, and
// the load progress (ready_timeout as the longest time without progress).
#include <signal.h>
#include <sys/stat.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>
#include <sstream>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

const std::string kQuickRestarts =
    "models.m.restart.initial_delay = 0.05\n"
    "models.m.restart.max_delay = 0.2\n";

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

bool exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

long long file_size(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// The numbers N of the "spew N ..." lines in `text`.
std::vector<long> spew_numbers(const std::string& text) {
    std::vector<long> numbers;
    static const std::regex spew("spew ([0-9]+) ");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), spew);
         it != std::sregex_iterator(); ++it) {
        numbers.push_back(std::stol((*it)[1]));
    }
    return numbers;
}

}  // namespace

TEST_CASE("logging.format = json: every line is an object with time, level, model and message",
          "[fake][logging]") {
    FakeEngine fake("--fake-load-ms 0", "logging.format = json\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    REQUIRE(http(fake.port(), "POST", "/v1/chat/completions", kChat).status == 200);
    CHECK(fake.engine->stop(SIGTERM) == 0);
    fake.engine->drain_output();

    static const std::regex iso_ms(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
    std::istringstream log(fake.engine->log());
    std::string line;
    size_t lines = 0, child_lines = 0, model_lines = 0, engine_lines = 0;
    bool ready_line = false, loaded_line = false;
    while (std::getline(log, line)) {
        CAPTURE(line);
        ++lines;
        auto entry = json::parse(line, nullptr, false);
        REQUIRE(entry.is_object());
        REQUIRE(entry["time"].is_string());
        CHECK(std::regex_match(entry["time"].get<std::string>(), iso_ms));
        REQUIRE(entry["level"].is_string());
        CHECK(!entry["level"].get<std::string>().empty());
        REQUIRE(entry["message"].is_string());
        const std::string message = entry["message"];
        // The model is a field, not a prefix of the message.
        CHECK(message.rfind("[m]", 0) != 0);
        CHECK(message.rfind("model m:", 0) != 0);
        if (!entry.contains("model")) {
            ++engine_lines;
            continue;
        }
        CHECK(entry["model"] == "m");
        if (entry.value("source", "") == "child") {
            ++child_lines;
            loaded_line = loaded_line || message == "main: model loaded";
        } else {
            ++model_lines;
            ready_line = ready_line || message.rfind("starting -> ready: ", 0) == 0;
        }
    }
    CHECK(lines >= 10);
    CHECK(engine_lines >= 1);  // e.g. "listening on ..."
    CHECK(child_lines >= 3);
    CHECK(model_lines >= 3);
    CHECK(loaded_line);  // the child's own line, relayed with the model's name
    CHECK(ready_line);   // the supervisor's line about the model
}

TEST_CASE("logging.file is rotated by size and the newest lines are in the file itself",
          "[fake][logging]") {
    TempDir logs;
    const std::string file = logs.path() + "/engine.log";
    FakeEngine fake("--fake-load-ms 0", "logging.file = " + file +
                                            "\n"
                                            "logging.max_size_mb = 1\n"
                                            "logging.max_files = 2\n");
    REQUIRE(fake.engine->wait_health(200, 10s));
    // 20,000 lines of ~110 bytes (2.2 MB) through the child's stderr: two rotations at 1 MB. In
    // rounds of 4,000, each written out before the next, so that none is dropped from the queue.
    for (long from = 0; from < 20000; from += 4000) {
        CAPTURE(from);
        auto spew =
            http(fake.port(), "POST", "/fake/spew/4000/" + std::to_string(from), "", {}, 20s);
        REQUIRE(spew.status == 200);
        const std::string last = "spew " + std::to_string(from + 3999) + " ";
        REQUIRE(wait_until([&] { return read_file(file).find(last) != std::string::npos; }, 20s));
    }
    const std::string rotated1 = logs.path() + "/engine.1.log";
    const std::string rotated2 = logs.path() + "/engine.2.log";
    CHECK(exists(rotated1));
    CHECK(exists(rotated2));
    CHECK_FALSE(exists(logs.path() + "/engine.3.log"));  // max_files = 2
    CHECK(file_size(file) <= 1024 * 1024);
    CHECK(file_size(rotated1) <= 1024 * 1024);
    CHECK(file_size(rotated1) > 900 * 1024);
    // Newest in engine.log, older in engine.1.log: every number there is below the current ones.
    auto newest = spew_numbers(read_file(file));
    auto older = spew_numbers(read_file(rotated1));
    REQUIRE(!newest.empty());
    REQUIRE(!older.empty());
    CHECK(newest.back() == 19999);
    CHECK(older.back() < newest.front());
    // The file has the engine's own lines too, in the text format with the model's name.
    CHECK(read_file(rotated2).find("info model m: starting -> ready") != std::string::npos);
    // With a file, stderr gets only warnings and errors: no relayed info line.
    CHECK_FALSE(fake.engine->log_contains("[m] "));
    CHECK_FALSE(fake.engine->log_contains("spew "));
    CHECK(fake.engine->stop(SIGTERM) == 0);
}

TEST_CASE("a logging.file that cannot be created is a config error naming the key and the path",
          "[fake][logging]") {
    TempDir files;
    std::string model = files.write("model.gguf", "x");
    std::string output;
    int code = run_engine_once(
        fake_model_config("m", model, "") + "logging.file = /nonexistent-dir/engine.log\n",
        "properties", output);
    CHECK(code == 78);
    CHECK(output.find("logging.file") != std::string::npos);
    CHECK(output.find("/nonexistent-dir/engine.log") != std::string::npos);
}

TEST_CASE("a slow load that keeps printing outlives ready_timeout and its progress is logged",
          "[fake][readiness]") {
    // 6 s of loading, a line every 200 ms: never 2 s without progress (but 6 s in all).
    FakeEngine fake("--fake-load-ms 6000 --fake-load-progress-ms 200",
                    "models.m.ready_timeout = 2\n" + kQuickRestarts);
    REQUIRE(fake.engine->wait_log("starting -> ready", 20s));
    CHECK(fake.engine->log_contains(
        "loading m: 5 s; llama-server: llama_model_loader: fake progress: "));
    CHECK_FALSE(fake.engine->log_contains("ready_timeout"));
    auto model = admin_model(fake.port());
    CHECK(model["starts"] == 1);
    CHECK(model["restarts"] == 0);
}

TEST_CASE("a load silent for longer than ready_timeout is stopped and restarted",
          "[fake][readiness]") {
    // A line every 3 s: progress, but with gaps longer than ready_timeout.
    FakeEngine fake("--fake-load-ms 60000 --fake-load-progress-ms 3000",
                    "models.m.ready_timeout = 1\n" + kQuickRestarts);
    REQUIRE(fake.engine->wait_log("not ready after 1 s without progress (ready_timeout", 10s));
    CHECK(fake.engine->log_contains("-> stopping: not ready after 1 s without progress"));
    // Restarted as after any other failed start.
    CHECK(fake.engine->wait_log_count("-> starting: ", 2, 10s));
    CHECK_FALSE(fake.engine->log_contains("fake progress"));  // it never got that far
}
