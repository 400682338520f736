// The checks that look at every model at once, after each model's own keys are read: names
// that must be unique (aliases), listeners that must not collide, groups that must exist, and
// the defaults that depend on the other models (autostart).
#pragma once

#include <vector>

#include "config/config.hpp"
#include "config/validator.hpp"

namespace gradatum::config {

// models.<name>.aliases: no alias may be a model's name, another alias, or listed twice. A
// refused alias is dropped (when collecting).
void check_aliases(const Validator& v, std::vector<ModelSettings>& models);

// models.<name>.listen: not the address:port of server.listen, server.metrics_listen or another
// model's listen (nor overlapping a wildcard on that port). A refused one is dropped.
void check_model_listeners(const Validator& v, const ServerSettings& server,
                           std::vector<ModelSettings>& models);

// models.<name>.group must name a groups.<g> section: a typo would silently lose exclusivity.
void check_groups(const Validator& v, const std::vector<GroupSettings>& groups,
                  const std::vector<ModelSettings>& models);

// models.<name>.autostart, read here because its default depends on the others: true with one
// model; with several, true for server.default_model only. An explicit value always wins.
void resolve_autostart(const Validator& v, const ServerSettings& server,
                       std::vector<ModelSettings>& models);

// server.default_model names a model (not an alias: requests may use aliases, the config names
// models).
void check_default_model(const Validator& v, const ServerSettings& server,
                         const std::vector<ModelSettings>& models);

}  // namespace gradatum::config
