#include "spawn_builder.hpp"

namespace command {

std::vector<std::string> build_argv(const Settings& s, const PlaceholderValues& values) {
    std::vector<std::string> argv;
    for (const auto& word : s.argv) argv.push_back(word.render(values));
    return argv;
}

std::vector<std::string> build_env(const Settings& s, const PlaceholderValues& values,
                                   const std::string& key) {
    std::vector<std::string> env;
    for (const auto& [name, value] : s.env) env.push_back(name + "=" + value.render(values));
    if (s.port_env) env.push_back(*s.port_env + "=" + std::to_string(values.port));
    if (s.key_env) env.push_back(*s.key_env + "=" + key);
    return env;
}

}  // namespace command
