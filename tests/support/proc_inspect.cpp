#include "proc_inspect.hpp"

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace ge_test {

namespace {

// /proc/PID/stat, or "" if the process is gone (reading a vanishing process fails with ESRCH,
// which libstdc++'s filebuf turns into an exception).
std::string proc_stat(pid_t pid) {
    try {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        if (!stat) return "";
        return std::string((std::istreambuf_iterator<char>(stat)), {});
    } catch (const std::exception&) {
        return "";
    }
}

}  // namespace

std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> out;
    DIR* proc = opendir("/proc");
    if (!proc) return out;
    while (dirent* entry = readdir(proc)) {
        pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
        if (pid <= 0) continue;
        std::string content = proc_stat(pid);
        auto close_paren = content.rfind(')');
        if (close_paren == std::string::npos) continue;
        std::istringstream fields(content.substr(close_paren + 2));
        char state;
        pid_t ppid;
        fields >> state >> ppid;
        if (ppid == parent) out.push_back(pid);
    }
    closedir(proc);
    return out;
}

bool process_alive(pid_t pid) {
    std::string content = proc_stat(pid);
    auto close_paren = content.rfind(')');
    return close_paren != std::string::npos && content.size() > close_paren + 2 &&
           content[close_paren + 2] != 'Z' && content[close_paren + 2] != 'X';
}

std::vector<std::string> proc_strings(pid_t pid, const std::string& file) {
    std::vector<std::string> out;
    try {
        std::ifstream in("/proc/" + std::to_string(pid) + "/" + file, std::ios::binary);
        std::string entry;
        while (std::getline(in, entry, '\0')) out.push_back(entry);
    } catch (const std::exception&) {
    }
    return out;
}

std::string child_api_key(pid_t pid) {
    const std::string name = "LLAMA_API_KEY=";
    for (const auto& entry : proc_strings(pid, "environ")) {
        if (entry.rfind(name, 0) == 0) return entry.substr(name.size());
    }
    return "";
}

std::vector<std::pair<std::string, std::string>> child_auth(pid_t pid) {
    std::string key = child_api_key(pid);
    if (key.empty()) return {};
    return {{"Authorization", "Bearer " + key}};
}

bool wait_all_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (true) {
        bool any = false;
        for (pid_t pid : pids) any = any || process_alive(pid);
        if (!any) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
}

}  // namespace ge_test
