// Loading plugins: each refusal names the file and the reason, and never stops the others.
#include "plugin/plugin_registry.hpp"

#include <Poco/DirectoryIterator.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "plugin/plugin_call.hpp"
#include "process/program_lookup.hpp"

namespace gradatum {

// The context behind one plugin's ge_host_api_t.
struct PluginContext {
    std::string plugin_id;
    const std::map<std::string, std::string>* config = nullptr;
    ge_host_api_t api{};
};

struct HostServices {
    std::map<std::string, std::string> config;
};

struct PluginRegistry::Loaded {
    void* library = nullptr;  // never dlclose()d: see Plugin
    Plugin plugin;
    PluginContext context;
};

namespace {

int64_t copy_out(const std::string& value, char* buffer, size_t capacity) {
    if (buffer && capacity > 0) {
        size_t n = std::min(value.size(), capacity - 1);
        std::memcpy(buffer, value.data(), n);
        buffer[n] = '\0';
    }
    return static_cast<int64_t>(value.size());
}

void host_log(void* ctx, int32_t level, const char* message) {
    auto* context = static_cast<PluginContext*>(ctx);
    const char* text = message ? message : "";
    switch (level) {
        case GE_LOG_DEBUG:
            spdlog::debug("plugin {}: {}", context->plugin_id, text);
            break;
        case GE_LOG_WARN:
            spdlog::warn("plugin {}: {}", context->plugin_id, text);
            break;
        case GE_LOG_ERROR:
            spdlog::error("plugin {}: {}", context->plugin_id, text);
            break;
        default:
            spdlog::info("plugin {}: {}", context->plugin_id, text);
            break;
    }
}

int64_t host_config_get(void* ctx, const char* key, char* buffer, size_t capacity) {
    auto* context = static_cast<PluginContext*>(ctx);
    if (!key) return -1;
    auto it = context->config->find(key);
    if (it == context->config->end()) return -1;
    return copy_out(it->second, buffer, capacity);
}

const void* host_get_extension(void*, const char*) {
    return nullptr;
}

int64_t host_find_program(void*, const char* program, char* buffer, size_t capacity) {
    if (!program) return -1;
    auto found = find_program(program);
    if (!found) return -1;
    return copy_out(*found, buffer, capacity);
}

void deinit(const Plugin& plugin) {
    if (!plugin.entry->deinit) return;
    PluginCall call(plugin, "deinit");
    plugin.entry->deinit();
}

std::string version_text(uint16_t major, uint16_t minor) {
    return std::to_string(major) + "." + std::to_string(minor);
}

}  // namespace

PluginRegistry::PluginRegistry(std::map<std::string, std::string> config_values)
    : services_(std::make_unique<HostServices>()) {
    services_->config = std::move(config_values);
}

PluginRegistry::~PluginRegistry() {
    for (auto& loaded : loaded_) deinit(loaded->plugin);
}

void PluginRegistry::load_directory(const std::string& dir) {
    Poco::File folder(dir);
    if (!folder.exists() || !folder.isDirectory()) {
        spdlog::warn("plugin directory {} does not exist; no plugins loaded", dir);
        return;
    }
    std::vector<std::string> files;
    for (Poco::DirectoryIterator it(dir), end; it != end; ++it) {
        if (it.path().getExtension() == "so" && it->isFile()) files.push_back(it.path().toString());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) load_file(file);
}

bool PluginRegistry::load_file(const std::string& path) {
    auto refuse = [&](const std::string& reason) {
        spdlog::error("plugin {} refused: {}", path, reason);
        refusals_.push_back({path, reason});
        return false;
    };
    auto loaded = std::make_unique<Loaded>();
    // RTLD_NOW, not the lazy binding Poco::SharedLibrary uses: a plugin that needs a function
    // nobody provides is refused here, instead of the dynamic linker killing the engine the first
    // time the plugin calls it.
    loaded->library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!loaded->library) {
        const char* why = dlerror();
        return refuse(std::string("not a loadable shared library: ") + (why ? why : path));
    }
    auto* entry =
        static_cast<const ge_plugin_entry_t*>(dlsym(loaded->library, GE_PLUGIN_ENTRY_SYMBOL));
    if (!entry) {
        return refuse(std::string("no '") + GE_PLUGIN_ENTRY_SYMBOL +
                      "' symbol: not a gradatum-engine plugin");
    }
    const std::string engine_abi = version_text(GE_ABI_MAJOR, GE_ABI_MINOR);
    if (entry->struct_size < offsetof(ge_plugin_entry_t, abi_minor) + sizeof(uint16_t)) {
        return refuse("entry struct too small (" + std::to_string(entry->struct_size) + " bytes)");
    }
    const std::string plugin_abi = version_text(entry->abi_major, entry->abi_minor);
    if (entry->abi_major != GE_ABI_MAJOR) {
        return refuse("plugin ABI " + plugin_abi + ", engine ABI " + engine_abi +
                      " (major versions must match; rebuild the plugin against this engine)");
    }
    if (!GE_HAS_FIELD(entry, ge_plugin_entry_t, get_factory) || !entry->plugin_id ||
        !*entry->plugin_id || !entry->init || !entry->get_factory) {
        return refuse("incomplete entry struct (plugin ABI " + plugin_abi + ")");
    }
    if (find(entry->plugin_id)) {
        return refuse(std::string("plugin id '") + entry->plugin_id + "' is already loaded from " +
                      find(entry->plugin_id)->path);
    }

    Plugin& plugin = loaded->plugin;
    plugin.id = entry->plugin_id;
    plugin.version = entry->plugin_version ? entry->plugin_version : "?";
    plugin.path = path;
    plugin.abi_major = entry->abi_major;
    plugin.abi_minor = entry->abi_minor;
    plugin.entry = entry;

    PluginContext& context = loaded->context;
    context.plugin_id = plugin.id;
    context.config = &services_->config;
    context.api.struct_size = sizeof(ge_host_api_t);
    context.api.abi_major = GE_ABI_MAJOR;
    context.api.abi_minor = GE_ABI_MINOR;
    context.api.host_ctx = &context;
    context.api.log = host_log;
    context.api.config_get = host_config_get;
    context.api.get_extension = host_get_extension;
    context.api.find_program = host_find_program;

    ge_error error{};
    int32_t status;
    {
        PluginCall call(plugin, "init");
        status = entry->init(&context.api, &error);
    }
    if (status != GE_OK) {
        return refuse("init failed: " +
                      std::string(error.message, strnlen(error.message, sizeof error.message)));
    }
    const ge_backend_factory_t* backend;
    {
        PluginCall call(plugin, "get_factory");
        backend =
            static_cast<const ge_backend_factory_t*>(entry->get_factory(GE_BACKEND_FACTORY_ID));
    }
    if (backend && !GE_HAS_FIELD(backend, ge_backend_factory_t, on_exit)) {
        deinit(plugin);
        return refuse("backend factory too small for ABI " + engine_abi);
    }
    if (backend &&
        (!backend->create || !backend->destroy || !backend->spawn_spec || !backend->probe_request ||
         !backend->probe_verdict || !backend->target || !backend->on_exit)) {
        deinit(plugin);
        // Only the functions added since 1.0 (generation_probe_request) may be NULL.
        return refuse("backend factory has a NULL function (every ABI 1.0 function is required)");
    }
    plugin.backend = backend;
    spdlog::info("plugin {} {} loaded from {} (ABI {})", plugin.id, plugin.version, path,
                 plugin_abi);
    loaded_.push_back(std::move(loaded));
    return true;
}

const Plugin* PluginRegistry::find(const std::string& id) const {
    for (const auto& loaded : loaded_) {
        if (loaded->plugin.id == id) return &loaded->plugin;
    }
    return nullptr;
}

std::vector<std::string> PluginRegistry::ids() const {
    std::vector<std::string> out;
    for (const auto& loaded : loaded_) out.push_back(loaded->plugin.id);
    return out;
}

}  // namespace gradatum
