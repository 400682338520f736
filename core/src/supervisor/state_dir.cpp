#include "supervisor/state_dir.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace gradatum {

void ensure_state_dir(const std::string& dir) {
    for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
        std::string part = slash == std::string::npos ? dir : dir.substr(0, slash);
        if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
            throw std::runtime_error("cannot create the cache directory '" + part +
                                     "': " + std::strerror(errno));
        }
        if (slash == std::string::npos) break;
    }
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw std::runtime_error("the cache directory '" + dir + "' is not a directory");
    }
}

std::vector<PrunedFile> prune_state_dir(const std::string& dir, uint64_t max_bytes) {
    struct Entry {
        std::string name;
        uint64_t bytes;
        struct timespec mtime;
    };
    std::vector<Entry> entries;
    uint64_t total = 0;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            struct stat st {};
            std::string path = dir + "/" + e->d_name;
            if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
            entries.push_back({e->d_name, static_cast<uint64_t>(st.st_size), st.st_mtim});
            total += static_cast<uint64_t>(st.st_size);
        }
        closedir(d);
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        if (a.mtime.tv_sec != b.mtime.tv_sec) return a.mtime.tv_sec < b.mtime.tv_sec;
        if (a.mtime.tv_nsec != b.mtime.tv_nsec) return a.mtime.tv_nsec < b.mtime.tv_nsec;
        return a.name < b.name;
    });
    std::vector<PrunedFile> pruned;
    for (const auto& entry : entries) {
        if (total <= max_bytes) break;
        if (unlink((dir + "/" + entry.name).c_str()) != 0) continue;
        total -= entry.bytes;
        pruned.push_back({entry.name, entry.bytes});
    }
    return pruned;
}

}  // namespace gradatum
