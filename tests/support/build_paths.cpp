#include "build_paths.hpp"

// The GE_* macros are set by tests/support/CMakeLists.txt.
namespace ge_test {

std::string engine_binary() {
    return GE_ENGINE_BINARY;
}
std::string plugin_dir() {
    return GE_PLUGIN_DIR;
}
std::string fake_llama_server() {
    return GE_FAKE_LLAMA_SERVER;
}
std::string source_dir() {
    return GE_SOURCE_DIR;
}

}  // namespace ge_test
