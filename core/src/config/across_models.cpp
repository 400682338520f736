#include "config/across_models.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "config/listen_addresses.hpp"

namespace gradatum::config {

namespace {

std::string key_of(const ModelSettings& m, const std::string& setting) {
    return "models." + m.name + "." + setting;
}

const ModelSettings* find_model(const std::vector<ModelSettings>& models, const std::string& name) {
    auto it = std::find_if(models.begin(), models.end(),
                           [&](const ModelSettings& m) { return m.name == name; });
    return it == models.end() ? nullptr : &*it;
}

}  // namespace

void check_aliases(const Validator& v, std::vector<ModelSettings>& models) {
    std::map<std::string, std::string> owner;  // alias -> the model that has it
    for (auto& m : models) {
        const std::string key = key_of(m, "aliases");
        std::vector<std::string> kept;
        for (const auto& alias : m.aliases) {
            if (alias == m.name) {
                v.report(key, "'" + alias + "' is this model's own name");
            } else if (find_model(models, alias)) {
                v.report(key, "'" + alias + "' is the name of model '" + alias + "'");
            } else if (std::find(kept.begin(), kept.end(), alias) != kept.end()) {
                v.report(key, "'" + alias + "' is listed twice");
            } else if (auto it = owner.find(alias); it != owner.end()) {
                v.report(key, "'" + alias + "' is also an alias of model '" + it->second +
                                  "' (models." + it->second + ".aliases)");
            } else {
                kept.push_back(alias);
                owner.emplace(alias, m.name);
            }
        }
        m.aliases = std::move(kept);
    }
}

void check_model_listeners(const Validator& v, const ServerSettings& server,
                           std::vector<ModelSettings>& models) {
    // Every listener opened so far, with its key; a model's listener joins once accepted.
    std::vector<std::pair<ListenAddress, std::string>> taken;
    for (const auto& a : server.listen) taken.emplace_back(a, "server.listen");
    if (server.metrics_listen) taken.emplace_back(*server.metrics_listen, "server.metrics_listen");
    for (auto& m : models) {
        if (!m.listen) continue;
        for (const auto& [other, other_key] : taken) {
            std::string why = listen_collision(*m.listen, other, other_key);
            if (why.empty()) continue;
            v.report(key_of(m, "listen"), why);
            m.listen.reset();
            break;
        }
        if (m.listen) taken.emplace_back(*m.listen, key_of(m, "listen"));
    }
}

void check_groups(const Validator& v, const std::vector<GroupSettings>& groups,
                  const std::vector<ModelSettings>& models) {
    std::string known;
    for (const auto& g : groups) known += (known.empty() ? "" : ", ") + g.name;
    for (const auto& m : models) {
        if (m.group.empty()) continue;
        bool configured = std::any_of(groups.begin(), groups.end(),
                                      [&](const GroupSettings& g) { return g.name == m.group; });
        if (configured) continue;
        v.report(key_of(m, "group"),
                 "no group named '" + m.group + "' (" +
                     (known.empty() ? std::string("no groups.<name> section is configured")
                                    : "configured: " + known) +
                     "); add groups." + m.group + ".exclusive = true or false");
    }
}

void resolve_autostart(const Validator& v, const ServerSettings& server,
                       std::vector<ModelSettings>& models) {
    for (auto& m : models) {
        bool by_default = models.size() == 1 || m.name == server.default_model;
        m.autostart = v.boolean(key_of(m, "autostart"), by_default);
    }
}

void check_default_model(const Validator& v, const ServerSettings& server,
                         const std::vector<ModelSettings>& models) {
    const std::string& name = server.default_model;
    if (name.empty() || find_model(models, name)) return;
    for (const auto& m : models) {
        if (std::find(m.aliases.begin(), m.aliases.end(), name) != m.aliases.end()) {
            v.report("server.default_model",
                     "'" + name + "' is an alias of model '" + m.name + "'; name the model");
            return;
        }
    }
    v.report("server.default_model", "no model named '" + name + "'");
}

}  // namespace gradatum::config
