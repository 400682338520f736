#include "config_edit.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

namespace ge_test {

void rewrite(const std::string& path, const std::string& from, const std::string& to) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    const size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    s.replace(at, from.size(), to);
    std::ofstream(path) << s;
}

}  // namespace ge_test
