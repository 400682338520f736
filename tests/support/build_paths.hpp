// Where the build put the programs the integration tests run.
#pragma once

#include <string>

namespace ge_test {

std::string engine_binary();
std::string plugin_dir();
std::string fake_llama_server();
std::string source_dir();

}  // namespace ge_test
