#include "settings.hpp"

#include <sys/stat.h>

#include <algorithm>

#include "common/split_args.hpp"
#include "common/value_readers.hpp"
#include "gradatum/config_values.hpp"

namespace llama_server {

namespace {

const std::string kPrefix = "llama_server.";

using gradatum::config_values::trim;

using plugin_common::read_boolean;
using plugin_common::read_integer;

void require_file(const std::string& key, const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) throw SettingsError(key, "file not found: " + path);
    if (!S_ISREG(st.st_mode)) throw SettingsError(key, "not a regular file: " + path);
}

// The messages never repeat the value: it is a secret.
std::string api_key(const std::string& key, const std::string& value) {
    std::string k(trim(value));
    if (k.empty()) {
        throw SettingsError(key, "empty (leave it unset and every start gets a fresh random key)");
    }
    for (unsigned char c : k) {
        // llama-server splits LLAMA_API_KEY on commas; the engine sends the key in a header.
        if (c == ',' || c < 0x21 || c == 0x7f) {
            throw SettingsError(key, "may not contain commas, spaces or control characters");
        }
    }
    return k;
}

std::vector<std::string> extra_args(const std::string& key, const std::string& value) {
    auto words = split_args(value);
    for (std::string word : words) {
        if (word.rfind("--", 0) == 0) std::replace(word.begin(), word.end(), '_', '-');
        if (word == "--api-key" || word.rfind("--api-key=", 0) == 0) {
            throw SettingsError(key,
                                "--api-key would put a secret on the command line, where every "
                                "local user can read it; set llama_server.api_key instead (or "
                                "leave it unset for a random key per start)");
        }
    }
    return words;
}

void read_llama(const std::string& key, const std::string& value, Settings& s) {
    const std::string name = key.substr(kPrefix.size());
    if (name == "binary")
        s.binary = std::string(trim(value));
    else if (name == "model")
        s.model = std::string(trim(value));
    else if (name == "ctx_size")
        s.ctx_size = read_integer(key, value, 0);
    else if (name == "threads")
        s.threads = read_integer(key, value, -1);
    else if (name == "parallel")
        s.parallel = read_integer(key, value, 1);
    else if (name == "n_gpu_layers") {
        std::string t(trim(value));
        if (t != "auto" && t != "all") read_integer(key, t, -1);
        s.n_gpu_layers = t;
    } else if (name == "mmproj")
        s.mmproj = std::string(trim(value));
    else if (name == "embeddings")
        s.embeddings = read_boolean(key, value);
    else if (name == "alias")
        s.alias = std::string(trim(value));
    else if (name == "api_key")
        s.api_key = api_key(key, value);
    else if (name == "args")
        s.extra_args = extra_args(key, value);
    else {
        throw SettingsError(key,
                            "unknown key (known: binary, model, ctx_size, threads, "
                            "n_gpu_layers, parallel, mmproj, embeddings, alias, api_key, args)");
    }
}

}  // namespace

std::vector<std::string> split_args(const std::string& args) {
    return plugin_common::split_args(args, "llama_server.args");
}

Settings parse_settings(const std::map<std::string, std::string>& values,
                        const ProgramFinder& find_program) {
    Settings s;
    for (const auto& [key, value] : values) {
        if (key.rfind(kPrefix, 0) == 0)
            read_llama(key, value, s);
        else if (plugin_common::is_restart_key(key))
            plugin_common::read_restart_key(key, value, s.restart);
        else
            throw SettingsError(key, "unknown key");
    }
    if (s.model.empty()) {
        throw SettingsError("llama_server.model", "missing (path to a .gguf file)");
    }
    require_file("llama_server.model", s.model);
    if (s.mmproj) require_file("llama_server.mmproj", *s.mmproj);
    if (s.binary.empty()) throw SettingsError("llama_server.binary", "empty");
    auto resolved = find_program(s.binary);
    if (!resolved) {
        bool is_path = s.binary.find('/') != std::string::npos;
        throw SettingsError("llama_server.binary",
                            is_path ? "not an executable file: " + s.binary
                                    : "'" + s.binary +
                                          "' not found on PATH (set it to the full "
                                          "path of llama-server)");
    }
    s.binary = *resolved;
    plugin_common::check_restart_settings(s.restart);
    return s;
}

}  // namespace llama_server
