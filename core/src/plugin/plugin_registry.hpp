// Loads backend plugins (*.so) from a directory and checks their ABI.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gradatum/plugin_abi.h"

namespace Poco {
class SharedLibrary;
}

namespace gradatum {

// One loaded plugin. Its library stays loaded until the process exits: a plugin thread may still
// run during shutdown, and unloading under it would crash (POCO-NOTES item 11).
class Plugin {
  public:
    std::string id;
    std::string version;
    std::string path;
    uint16_t abi_major = 0;
    uint16_t abi_minor = 0;
    const ge_plugin_entry_t* entry = nullptr;
    const ge_backend_factory_t* backend = nullptr;  // NULL if the plugin offers no backend
};

struct PluginRefusal {
    std::string path;
    std::string reason;
};

// Host services handed to plugins (logging, config lookup, program lookup).
struct HostServices;

class PluginRegistry {
  public:
    // `config_values`: every config key with its raw value, for the config_get service.
    explicit PluginRegistry(std::map<std::string, std::string> config_values = {});
    ~PluginRegistry();
    PluginRegistry(const PluginRegistry&) = delete;
    PluginRegistry& operator=(const PluginRegistry&) = delete;

    // Loads every *.so in `dir` (sorted by name). Refused files are logged and listed in
    // refusals(); the others still load. A missing directory is logged and loads nothing.
    void load_directory(const std::string& dir);
    // Loads one file; returns false (and records the refusal) if it is refused.
    bool load_file(const std::string& path);

    const Plugin* find(const std::string& id) const;
    std::vector<std::string> ids() const;
    const std::vector<PluginRefusal>& refusals() const { return refusals_; }

  private:
    struct Loaded;
    std::vector<std::unique_ptr<Loaded>> loaded_;
    std::vector<PluginRefusal> refusals_;
    std::unique_ptr<HostServices> services_;
};

}  // namespace gradatum
