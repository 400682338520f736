#include "settings.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include "common/split_args.hpp"
#include "common/value_readers.hpp"
#include "gradatum/config_values.hpp"

namespace command {

namespace {

const std::string kPrefix = "command.";
const std::string kArgv = "command.argv";

using gradatum::config_values::trim;

std::string lower(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

bool is_env_name(const std::string& name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(),
                       [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

std::string env_name(const std::string& key, const std::string& value) {
    std::string name(trim(value));
    if (!is_env_name(name)) {
        throw SettingsError(key,
                            "expected an environment variable name (letters, digits and _, "
                            "not starting with a digit), got '" +
                                value + "'");
    }
    return name;
}

// An RFC 9110 token.
bool is_header_name(const std::string& name) {
    static const std::string kSpecials = "!#$%&'*+-.^_`|~";
    return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || kSpecials.find(static_cast<char>(c)) != std::string::npos;
    });
}

// The header's message never repeats its value: it may be a secret (a server's own key).
std::pair<std::string, std::string> header(const std::string& key, const std::string& name,
                                           const std::string& value) {
    if (!is_header_name(name)) {
        throw SettingsError(key, "not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)");
    }
    // The engine frames and routes the request itself: these are not the backend's to set.
    static const char* kReserved[] = {"host",       "content-length", "transfer-encoding",
                                      "connection", "keep-alive",     "upgrade",
                                      "te",         "trailer",        "expect"};
    for (const char* reserved : kReserved) {
        if (lower(name) == reserved) {
            throw SettingsError(key, "the engine sets " + name + " itself");
        }
    }
    std::string v(trim(value));
    if (v.empty()) throw SettingsError(key, "empty");
    for (unsigned char c : v) {
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            throw SettingsError(key, "may not contain control characters (line breaks included)");
        }
    }
    return {name, v};
}

std::string health_path(const std::string& key, const std::string& value) {
    std::string path(trim(value));
    if (path.empty() || path[0] != '/') {
        throw SettingsError(key, "expected a path starting with /, got '" + value + "'");
    }
    for (unsigned char c : path) {
        if (c <= 0x20 || c == 0x7f) {
            throw SettingsError(key, "may not contain spaces or control characters");
        }
    }
    return path;
}

std::set<int> ready_status(const std::string& key, const std::string& value) {
    std::set<int> codes;
    std::string item;
    std::string text = value + ",";
    for (char c : text) {
        if (c != ',') {
            item += c;
            continue;
        }
        auto code = gradatum::config_values::parse_integer(item);
        if (!code || *code < 100 || *code > 599) {
            throw SettingsError(key,
                                "expected HTTP status codes from 100 to 599, comma-separated "
                                "(e.g. 200, 204), got '" +
                                    value + "'");
        }
        codes.insert(static_cast<int>(*code));
        item.clear();
    }
    return codes;
}

Template parse_template(const std::string& key, const std::string& text, const std::string& where) {
    try {
        return Template::parse(text);
    } catch (const TemplateError& e) {
        throw SettingsError(key, std::string(e.what()).insert(0, where + ": "));
    }
}

std::string absolute_directory(const std::string& key, const std::string& value) {
    std::string dir(trim(value));
    if (dir.empty() || dir[0] != '/') {
        throw SettingsError(key, "expected an absolute path, got '" + value + "'");
    }
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0) throw SettingsError(key, "directory not found: " + dir);
    if (!S_ISDIR(st.st_mode)) throw SettingsError(key, "not a directory: " + dir);
    return dir;
}

// The words of command.argv, as written and as templates.
struct Argv {
    std::vector<std::string> words;
    std::vector<Template> templates;
};

Argv argv(const std::string& value) {
    Argv out;
    out.words = plugin_common::split_args(value, kArgv);
    if (out.words.empty()) throw SettingsError(kArgv, "empty (the program and its arguments)");
    for (size_t i = 0; i < out.words.size(); ++i) {
        const std::string& word = out.words[i];
        out.templates.push_back(
            parse_template(kArgv, word, "word " + std::to_string(i + 1) + " ('" + word + "')"));
    }
    if (out.templates[0].has_placeholders()) {
        throw SettingsError(kArgv, "the program (the first word) cannot hold a placeholder");
    }
    return out;
}

struct Raw {
    std::optional<std::string> argv, workdir;
    std::map<std::string, std::string> header_keys;  // lower-case name -> key, for duplicates
};

void read_command(const std::string& key, const std::string& value, Settings& s, Raw& raw) {
    const std::string name = key.substr(kPrefix.size());
    if (name == "argv")
        raw.argv = value;
    else if (name == "port_env")
        s.port_env = env_name(key, value);
    else if (name == "key_env")
        s.key_env = env_name(key, value);
    else if (name == "health_path")
        s.health_path = health_path(key, value);
    else if (name == "ready_status")
        s.ready_status = ready_status(key, value);
    else if (name == "workdir")
        raw.workdir = value;
    else if (name.rfind("env.", 0) == 0) {
        std::string var = name.substr(4);
        if (!is_env_name(var)) {
            throw SettingsError(key, "'" + var +
                                         "' is not an environment variable name (letters, "
                                         "digits and _, not starting with a digit)");
        }
        s.env[var] = parse_template(key, value, "value");
    } else if (name.rfind("header.", 0) == 0) {
        std::string header_name = name.substr(7);
        auto [it, fresh] = raw.header_keys.emplace(lower(header_name), key);
        if (!fresh) throw SettingsError(key, "the same header as " + it->second);
        s.headers.push_back(header(key, header_name, value));
    } else {
        throw SettingsError(key,
                            "unknown key (known: command.argv, port_env, key_env, health_path, "
                            "ready_status, workdir, env.<NAME>, header.<Name>)");
    }
}

bool any_uses_port(const Settings& s) {
    for (const auto& word : s.argv) {
        if (word.uses(Placeholder::port)) return true;
    }
    for (const auto& [name, value] : s.env) {
        if (value.uses(Placeholder::port)) return true;
    }
    return false;
}

// The core execs the resolved path after changing to the working directory: a relative
// program is taken relative to that directory, as a shell started there would.
std::string program_path(const std::string& program, const std::string& workdir) {
    bool relative_path = program.find('/') != std::string::npos && program[0] != '/';
    return relative_path && !workdir.empty() ? workdir + "/" + program : program;
}

}  // namespace

Settings parse_settings(const std::map<std::string, std::string>& values,
                        const ProgramFinder& find_program) {
    Settings s;
    Raw raw;
    for (const auto& [key, value] : values) {
        if (key.rfind(kPrefix, 0) == 0)
            read_command(key, value, s, raw);
        else if (plugin_common::is_restart_key(key))
            plugin_common::read_restart_key(key, value, s.restart);
        else
            throw SettingsError(key, "unknown key");
    }
    if (raw.workdir) s.workdir = absolute_directory("command.workdir", *raw.workdir);
    if (!raw.argv) {
        throw SettingsError(kArgv,
                            "missing (the server's command line, e.g. my-server --port {port})");
    }
    Argv words = argv(*raw.argv);
    s.argv = std::move(words.templates);
    const std::string& program = words.words[0];
    auto resolved = find_program(program_path(program, s.workdir));
    if (!resolved) {
        bool is_path = program.find('/') != std::string::npos;
        throw SettingsError(kArgv,
                            is_path ? "not an executable file: " + program_path(program, s.workdir)
                                    : "'" + program +
                                          "' not found on PATH (write the program's "
                                          "full path)");
    }
    s.program = *resolved;
    if (!any_uses_port(s) && !s.port_env) {
        throw SettingsError(kArgv,
                            "nothing tells the child its port: put {port} in command.argv (e.g. "
                            "--port {port}) or name a variable in command.port_env");
    }
    for (const auto& own : {s.port_env, s.key_env}) {
        if (own && s.env.count(*own)) {
            throw SettingsError("command.env." + *own,
                                "set by the engine (command.port_env or command.key_env)");
        }
    }
    if (s.port_env && s.key_env && *s.port_env == *s.key_env) {
        throw SettingsError("command.key_env", "the same variable as command.port_env");
    }
    if (s.key_env) {
        for (const auto& [name, value] : s.headers) {
            if (lower(name) == "authorization") {
                throw SettingsError("command.header." + name,
                                    "command.key_env already sends Authorization: Bearer <key>");
            }
        }
    }
    plugin_common::check_restart_settings(s.restart);
    return s;
}

}  // namespace command
