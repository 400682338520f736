// The config loader on arbitrary file contents, in each of its four formats: a ConfigError (or
// ConfigFileError) or a valid config, never a crash or another exception.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    static const char* const kExtensions[] = {"properties", "ini", "xml", "json"};
    static const std::string dir = [] {
        char pattern[] = "/tmp/ge-fuzz-config-XXXXXX";
        return std::string(mkdtemp(pattern));
    }();
    std::string path = dir + "/engine." + kExtensions[data[0] % 4];
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
    try {
        gradatum::EngineConfig config = gradatum::load_config(path);
        if (config.models.empty()) std::abort();  // a valid config has a model
    } catch (const gradatum::ConfigError&) {
    }
    return 0;
}
