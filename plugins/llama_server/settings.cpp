#include "settings.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <set>

#include "gradatum/config_values.hpp"

namespace llama_server {

namespace {

const std::string kPrefix = "llama_server.";

using gradatum::config_values::trim;

long long integer(const std::string& key, const std::string& text, long long min,
                  long long max = LLONG_MAX) {
    auto v = gradatum::config_values::parse_integer(text);
    if (!v || *v < min || *v > max) {
        std::string range = max == LLONG_MAX
                                ? ">= " + std::to_string(min)
                                : "from " + std::to_string(min) + " to " + std::to_string(max);
        throw SettingsError(key, "expected a whole number " + range + ", got '" + text + "'");
    }
    return *v;
}

double seconds(const std::string& key, const std::string& text) {
    auto v = gradatum::config_values::parse_duration(text);
    if (!v) {
        throw SettingsError(
            key, gradatum::config_values::duration_expectation() + ", got '" + text + "'");
    }
    return static_cast<double>(v->count()) / 1000;
}

// A fraction from 0 to 1.
double fraction(const std::string& key, const std::string& text) {
    double v = 0;
    std::string_view t = trim(text);
    auto [end, error] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || error != std::errc() || end != t.data() + t.size() || !(v >= 0 && v <= 1)) {
        throw SettingsError(key, "expected a fraction from 0 to 1, got '" + text + "'");
    }
    return v;
}

bool boolean(const std::string& key, const std::string& text) {
    auto v = gradatum::config_values::parse_bool(text);
    if (!v) throw SettingsError(key, "expected true or false, got '" + text + "'");
    return *v;
}

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

void read_restart(const std::string& key, const std::string& value, RestartSettings& r) {
    const std::string name = key.substr(8);  // after "restart."
    if (name == "initial_delay")
        r.initial_delay_s = seconds(key, value);
    else if (name == "max_delay")
        r.max_delay_s = seconds(key, value);
    else if (name == "max_retries")
        r.max_retries = static_cast<int>(integer(key, value, 0, INT_MAX));
    else if (name == "window")
        r.window_s = seconds(key, value);
    else if (name == "stable_after")
        r.stable_after_s = seconds(key, value);
    else if (name == "load_error_retries")
        r.load_error_retries = static_cast<int>(integer(key, value, 0, INT_MAX));
    else if (name == "jitter")
        r.jitter = fraction(key, value);
    else {
        throw SettingsError(key,
                            "unknown key (known: restart.initial_delay, max_delay, "
                            "max_retries, window, stable_after, load_error_retries, jitter)");
    }
}

void read_llama(const std::string& key, const std::string& value, Settings& s) {
    const std::string name = key.substr(kPrefix.size());
    if (name == "binary")
        s.binary = std::string(trim(value));
    else if (name == "model")
        s.model = std::string(trim(value));
    else if (name == "ctx_size")
        s.ctx_size = integer(key, value, 0);
    else if (name == "threads")
        s.threads = integer(key, value, -1);
    else if (name == "parallel")
        s.parallel = integer(key, value, 1);
    else if (name == "n_gpu_layers") {
        std::string t(trim(value));
        if (t != "auto" && t != "all") integer(key, t, -1);
        s.n_gpu_layers = t;
    } else if (name == "mmproj")
        s.mmproj = std::string(trim(value));
    else if (name == "embeddings")
        s.embeddings = boolean(key, value);
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
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (size_t i = 0; i < args.size(); ++i) {
        char c = args[i];
        if (quote) {
            if (c == quote)
                quote = 0;
            else if (c == '\\' && quote == '"' && i + 1 < args.size())
                word += args[++i];
            else
                word += c;
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == '\\' && i + 1 < args.size()) {
            word += args[++i];
            in_word = true;
        } else if (std::isspace(static_cast<unsigned char>(c))) {
            if (in_word) words.push_back(word);
            word.clear();
            in_word = false;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (quote) throw SettingsError("llama_server.args", "unterminated quote in '" + args + "'");
    if (in_word) words.push_back(word);
    return words;
}

Settings parse_settings(const std::map<std::string, std::string>& values,
                        const ProgramFinder& find_program) {
    Settings s;
    for (const auto& [key, value] : values) {
        if (key.rfind(kPrefix, 0) == 0)
            read_llama(key, value, s);
        else if (key.rfind("restart.", 0) == 0)
            read_restart(key, value, s.restart);
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
    if (s.restart.max_delay_s < s.restart.initial_delay_s) {
        throw SettingsError("restart.max_delay", "must not be below restart.initial_delay");
    }
    return s;
}

}  // namespace llama_server
