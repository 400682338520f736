// The real llama-server and the tiny model, for the real tier.
#pragma once

#include <string>

namespace ge_test {

// Found the way scripts/ find them ($LLAMA_SERVER, PATH, the cache; $GE_TINY_MODEL or
// scripts/make-tiny-model.sh). When either is missing: fails the test under CI (CI=true), else
// exits 77, which ctest reports as skipped.
struct RealParts {
    std::string llama_server;
    std::string model;
};
const RealParts& real_parts();

// The tiny vision projector matching real_parts().model: $GE_TINY_MMPROJ, or made by
// scripts/make-tiny-mmproj.sh in the cache. Found only when a test asks (the other real tests do
// not pay for it); missing: fails under CI, else exits 77 like real_parts().
const std::string& real_mmproj();

}  // namespace ge_test
