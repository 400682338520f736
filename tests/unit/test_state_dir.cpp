// The core's side of keep_cache: the model's cache directory is created on demand and bounded.
#include <sys/stat.h>
#include <time.h>
#include <utime.h>

#include <catch2/catch.hpp>

#include <string>

#include "supervisor/state_dir.hpp"
#include "temp_dir.hpp"

using namespace gradatum;

namespace {

void age(const std::string& path, time_t seconds_ago) {
    struct utimbuf times {};
    times.actime = times.modtime = time(nullptr) - seconds_ago;
    REQUIRE(utime(path.c_str(), &times) == 0);
}

bool exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("state dir: created with its parents, private", "[unit][keep_cache]") {
    ge_test::TempDir dir;
    std::string path = dir.path() + "/a/b/model";
    ensure_state_dir(path);
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 0777) == 0700);
    ensure_state_dir(path);  // again: fine
    dir.write("file", "x");
    CHECK_THROWS_WITH(ensure_state_dir(dir.path() + "/file/model"),
                      Catch::Contains(dir.path() + "/file/model"));
}

TEST_CASE("state dir: the oldest files go until the rest fit", "[unit][keep_cache]") {
    ge_test::TempDir dir;
    std::string kb(1024, 'x');
    age(dir.write("old.bin", kb + kb), 300);
    age(dir.write("middle.bin", kb), 200);
    age(dir.write("new.bin", kb), 100);
    CHECK(prune_state_dir(dir.path(), 4096).empty());
    auto pruned = prune_state_dir(dir.path(), 2048);
    REQUIRE(pruned.size() == 1);
    CHECK(pruned[0].name == "old.bin");
    CHECK(pruned[0].bytes == 2048);
    CHECK(exists(dir.path() + "/middle.bin"));
    pruned = prune_state_dir(dir.path(), 0);
    REQUIRE(pruned.size() == 2);
    CHECK(pruned[0].name == "middle.bin");
    CHECK(pruned[1].name == "new.bin");
}
