#include "config/cache_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace gradatum::config {

namespace {

bool is_absolute(const std::string& path) {
    return !path.empty() && path[0] == '/';
}

std::string default_cache_dir() {
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    if (xdg && is_absolute(xdg)) return std::string(xdg) + "/gradatum-engine/state";
    const char* home = std::getenv("HOME");
    if (home && is_absolute(home)) return std::string(home) + "/.cache/gradatum-engine/state";
    return "";
}

// Why the engine could not create or write `path`, or "" if it can.
std::string unusable(std::string path) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return "'" + path + "' exists and is not a directory";
        if (access(path.c_str(), W_OK | X_OK) != 0) return "'" + path + "' is not writable";
        return "";
    }
    // The nearest ancestor that exists is where the engine would create the rest.
    while (true) {
        auto slash = path.find_last_of('/');
        path = slash == 0 ? "/" : path.substr(0, slash);
        if (stat(path.c_str(), &st) == 0) break;
        if (path == "/") return "no existing parent directory";
    }
    if (!S_ISDIR(st.st_mode)) return "'" + path + "' is not a directory";
    if (access(path.c_str(), W_OK | X_OK) != 0)
        return "it would be created in '" + path + "', which is not writable";
    return "";
}

}  // namespace

std::string resolve_cache_dir(const Validator& v, const std::vector<ModelSettings>& models) {
    auto it = v.raw().find("server.cache_dir");
    std::string dir = it == v.raw().end() ? "" : it->second;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    if (it != v.raw().end() && !is_absolute(dir)) {
        v.report("server.cache_dir", "must be an absolute path, got '" + it->second + "'");
        return "";
    }
    auto keeper = std::find_if(models.begin(), models.end(),
                               [](const ModelSettings& m) { return m.keep_cache; });
    if (keeper == models.end()) return "";
    if (dir.empty()) {
        dir = default_cache_dir();
        if (dir.empty()) {
            v.report("models." + keeper->name + ".keep_cache",
                     "needs a cache directory: set server.cache_dir (neither XDG_CACHE_HOME nor "
                     "HOME is set)");
            return "";
        }
    }
    std::string why = unusable(dir);
    if (!why.empty()) {
        v.report(
            it == v.raw().end() ? "models." + keeper->name + ".keep_cache" : "server.cache_dir",
            "cannot use '" + dir + "' as the cache directory: " + why +
                (it == v.raw().end() ? " (set server.cache_dir)" : ""));
        return "";
    }
    return dir;
}

std::string model_cache_dir(const std::string& cache_dir, const std::string& model) {
    return cache_dir + "/" + model;  // model names are letters, digits, _ and -
}

}  // namespace gradatum::config
