#include "check/check.hpp"

#include <Poco/Net/IPAddress.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "config/config.hpp"
#include "http/tls.hpp"
#include "plugin/backend_instance.hpp"
#include "plugin/plugin_registry.hpp"

namespace gradatum::check {

std::string listen_address_problem(const std::string& host) {
    sockaddr_storage address{};
    socklen_t length = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        length = sizeof *v4;
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        length = sizeof *v6;
    } else {
        return "'" + host + "' is not a numeric address";
    }
    int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("cannot create a socket: ") + std::strerror(errno);
    // Port 0: the kernel checks the address, and no real port is taken.
    int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&address), length);
    int error = errno;
    ::close(fd);
    if (rc == 0) return "";
    if (error == EADDRNOTAVAIL) return host + " is not an address of this machine";
    return "cannot use " + host + ": " + std::strerror(error);
}

namespace {

bool has_problem_on(const std::vector<std::string>& problems, const std::string& file,
                    const std::string& key_prefix) {
    const std::string start = file + ": " + key_prefix;
    return std::any_of(problems.begin(), problems.end(),
                       [&](const std::string& p) { return p.rfind(start, 0) == 0; });
}

std::string listener_text(const ListenAddress& a) {
    bool v6 = a.host.find(':') != std::string::npos;
    return std::string(a.tls ? "https://" : "http://") + (v6 ? "[" : "") + a.host +
           (v6 ? "]" : "") + ":" + std::to_string(a.port);
}

}  // namespace

Report run(const std::string& config_path, const std::string& plugin_dir) {
    Report report;
    auto& problems = report.problems;
    EngineConfig config = check_config(config_path, problems);
    const std::string& file = config_path;
    if (config.raw.empty() && !problems.empty()) return report;  // nothing could be read

    // Plugins, and each model's settings as its plugin sees them (model file, binary, keys):
    // what Engine's constructor does, without the supervisors.
    PluginRegistry plugins(config.raw);
    plugins.load_directory(plugin_dir);
    for (const auto& model : config.models) {
        if (model.backend.empty()) continue;  // already reported
        const Plugin* plugin = plugins.find(model.backend);
        if (!plugin || !plugin->backend) {
            std::string loaded;
            for (const auto& id : plugins.ids()) loaded += (loaded.empty() ? "" : ", ") + id;
            std::string refused;
            for (const auto& r : plugins.refusals())
                refused += "; refused " + r.path + ": " + r.reason;
            problems.push_back(config_error_text(
                file, "models." + model.name + ".backend",
                "model '" + model.name + "' needs backend plugin '" + model.backend +
                    "', which is not loaded from " + plugin_dir +
                    " (loaded: " + (loaded.empty() ? "none" : loaded) + ")" + refused));
            continue;
        }
        try {
            BackendInstance backend(*plugin, model, file);
        } catch (const ConfigError& e) {
            problems.push_back(e.what());
        } catch (const std::exception& e) {
            problems.push_back(config_error_text(file, "models." + model.name, e.what()));
        }
    }

    const auto& listen = config.server.listen;
    bool tls = std::any_of(listen.begin(), listen.end(), [](const auto& a) { return a.tls; });
    if (tls && !has_problem_on(problems, file, "server.tls.")) {
        try {
            http::TlsContext::load(config.server.tls);
        } catch (const http::TlsError& e) {
            problems.push_back(config_error_text(file, e.key(), e.what()));
        }
    }
    if (!has_problem_on(problems, file, "server.listen")) {
        for (const auto& address : listen) {
            std::string why = listen_address_problem(address.host);
            if (!why.empty())
                problems.push_back(
                    config_error_text(file, "server.listen", listener_text(address) + ": " + why));
        }
    }

    // A model's own listener (refused ones were dropped by the config check).
    for (const auto& m : config.models) {
        if (!m.listen) continue;
        std::string why = listen_address_problem(m.listen->host);
        if (!why.empty())
            problems.push_back(config_error_text(file, "models." + m.name + ".listen",
                                                 listener_text(*m.listen) + ": " + why));
    }

    if (report.ok()) {
        std::string models, listeners;
        size_t listener_count = listen.size();
        for (const auto& m : config.models)
            models += (models.empty() ? "" : ", ") + m.name + " (" + m.backend + ")";
        for (const auto& a : listen)
            listeners += (listeners.empty() ? "" : ", ") + listener_text(a);
        for (const auto& m : config.models) {
            if (!m.listen) continue;
            listeners += ", " + listener_text(*m.listen) + " (" + m.name + ")";
            ++listener_count;
        }
        report.summary = file + ": ok: " + std::to_string(config.models.size()) + " model" +
                         (config.models.size() == 1 ? "" : "s") + " [" + models + "], " +
                         std::to_string(listener_count) + " listener" +
                         (listener_count == 1 ? "" : "s") + " [" + listeners + "]";
    }
    return report;
}

}  // namespace gradatum::check
