// A model's cache directory (models.<name>.keep_cache): created when a child is about to start,
// bounded after each save. The plugin decides what goes in it; the core only keeps its size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gradatum {

// Creates `dir` and its parents (mode 0700). Throws std::runtime_error naming the path.
void ensure_state_dir(const std::string& dir);

struct PrunedFile {
    std::string name;
    uint64_t bytes = 0;
};

// Removes the oldest regular files (by modification time) until the files in `dir` take at
// most `max_bytes`. Returns what was removed, oldest first.
std::vector<PrunedFile> prune_state_dir(const std::string& dir, uint64_t max_bytes);

}  // namespace gradatum
