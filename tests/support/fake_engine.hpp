// An engine in front of the fake llama-server (tests/fake_llama_server), and what the fake
// reports back about the requests it got.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "engine_process.hpp"
#include "temp_dir.hpp"

namespace ge_test {

// An engine with one fake-backed model named "m" (the fake's flags in `fake_args`).
struct FakeEngine {
    TempDir files;
    std::string model;
    std::unique_ptr<Engine> engine;

    explicit FakeEngine(const std::string& fake_args, const std::string& extra_config = "");
    uint16_t port() const { return engine->port(); }
    pid_t child() const { return only_child(*engine); }
};

// The fake's /fake/last-request reports bodies in base64.
std::string base64_decode(const std::string& text);

}  // namespace ge_test
