#include "engine.hpp"

#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "http/front.hpp"
#include "http/tls.hpp"
#include "plugin/backend_instance.hpp"
#include "plugin/plugin_registry.hpp"
#include "proxy/front_door.hpp"
#include "proxy/openai_error.hpp"
#include "supervisor/model_supervisor.hpp"

namespace gradatum {

using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::string> names_of(const std::vector<ModelSupervisor*>& models) {
    std::vector<std::string> names;
    for (auto* model : models) names.push_back(model->name());
    return names;
}

}  // namespace

struct Engine::Http {
    Http(proxy::Router router, std::vector<ModelSupervisor*> models, const ServerSettings& s)
        : metrics(names_of(models)),
          door{std::move(router),
               std::move(models),
               s.upstream_idle_timeout,
               static_cast<std::streamsize>(s.max_body_mb) * 1024 * 1024,
               s.client_idle_timeout,
               proxy::ClientKeys(s.api_keys),
               s.health_requires_key,
               metrics,
               s.metrics_children,
               std::nullopt,
               [this] { return front ? front->busy_workers() : 0; },
               /*access_log=*/true,
               {}} {
        door.upstream = std::make_unique<proxy::UpstreamPool>(
            proxy::UpstreamSettings{s.upstream_connect_timeout, s.upstream_header_timeout,
                                    static_cast<size_t>(s.upstream_keepalive)});
    }

    ops::Metrics metrics;  // before `door`, which refers to it
    proxy::FrontDoor door;
    std::vector<Poco::Net::ServerSocket> listeners;
    std::unique_ptr<http::Front> front;
};

Engine::Engine(EngineConfig config, const std::string& plugin_dir) : config_(std::move(config)) {
    plugins_ = std::make_unique<PluginRegistry>(config_.raw);
    plugins_->load_directory(plugin_dir);
    for (const auto& model : config_.models) {
        const Plugin* plugin = plugins_->find(model.backend);
        if (!plugin || !plugin->backend) {
            std::string loaded;
            for (const auto& id : plugins_->ids()) loaded += (loaded.empty() ? "" : ", ") + id;
            throw ConfigError(
                config_error_text(config_.source_path, "models." + model.name + ".backend",
                                  "model '" + model.name + "' needs backend plugin '" +
                                      model.backend + "', which is not loaded from " + plugin_dir +
                                      " (loaded: " + (loaded.empty() ? "none" : loaded) + ")"));
        }
        auto backend = std::make_unique<BackendInstance>(*plugin, model, config_.source_path);
        models_.push_back(std::make_unique<ModelSupervisor>(model, std::move(backend)));
    }
    const auto& listen = config_.server.listen;
    if (std::any_of(listen.begin(), listen.end(), [](const ListenAddress& a) { return a.tls; })) {
        try {
            tls_ = http::TlsContext::load(config_.server.tls);
        } catch (const http::TlsError& e) {
            throw ConfigError(config_error_text(config_.source_path, e.key(), e.what()));
        }
    }
}

bool Engine::reload() {
    if (!tls_) {
        spdlog::info("reload: nothing to reload (no https:// listener)");
        return true;
    }
    try {
        auto fresh = http::TlsContext::load(config_.server.tls);
        tls_ = fresh;
        if (http_ && http_->front) http_->front->set_tls(fresh);
        spdlog::info("reload: TLS certificate {} ({}) for new connections", config_.server.tls.cert,
                     fresh->description());
        return true;
    } catch (const http::TlsError& e) {
        spdlog::error("reload: keeping the current TLS certificate: {}: {}", e.key(), e.what());
        return false;
    }
}

void Engine::set_state_observer(
    std::function<void(const std::string&, ModelState, const std::string&)> observer) {
    for (auto& m : models_) m->set_state_observer(observer);
}

std::vector<std::string> Engine::model_names() const {
    std::vector<std::string> names;
    for (const auto& m : models_) names.push_back(m->name());
    return names;
}

Engine::~Engine() {
    std::atomic<bool> hurry{true};
    stop(hurry);
}

void Engine::start() {
    std::vector<ModelSupervisor*> models;
    ModelSupervisor* default_model = nullptr;
    for (auto& m : models_) {
        models.push_back(m.get());
        if (m->name() == config_.server.default_model) default_model = m.get();
    }
    if (!default_model) default_model = models.front();
    const ServerSettings& server = config_.server;
    http_ = std::make_unique<Http>(proxy::Router(models, default_model), models, server);

    // Every listener is bound before anything is spawned: a bad address costs nothing.
    auto bind = [&](const ListenAddress& listen, const char* key) {
        if (Poco::Net::IPAddress(listen.host).isWildcard()) {
            spdlog::warn("listening on every interface ({}:{}): server.allow_wildcard is set",
                         listen.host, listen.port);
        }
        Poco::Net::ServerSocket socket;
        try {
            // SO_REUSEADDR for quick restarts, but not SO_REUSEPORT: a second engine must not
            // share the port.
            socket.bind(Poco::Net::SocketAddress(listen.host, listen.port), /*reuseAddress=*/true,
                        /*reusePort=*/false);
            socket.listen(std::max(64, server.max_queued));
        } catch (const Poco::Exception& e) {
            throw ListenError("cannot listen on " + listen.host + ":" +
                              std::to_string(listen.port) + " (" + config_.source_path + ": " +
                              key + "): " + e.displayText());
        }
        return socket;
    };
    for (const auto& listen : server.listen) {
        http_->listeners.push_back(bind(listen, "server.listen"));
    }
    std::optional<Poco::Net::ServerSocket> metrics_listener;
    http_->door.access_log = config_.log_access;
    if (server.metrics_listen) {
        metrics_listener = bind(*server.metrics_listen, "server.metrics_listen");
        http_->door.metrics_address = metrics_listener->address();
    }
    http::FrontSettings front;
    front.limits.max_bytes = server.max_header_bytes;
    front.limits.max_fields = server.max_headers;
    front.threads = server.threads;
    front.header_timeout = server.header_timeout;
    front.keep_alive_timeout = server.keep_alive_timeout;
    front.client_idle_timeout = server.client_idle_timeout;
    front.client_send_timeout = server.client_send_timeout;
    front.max_connections = server.max_connections;
    front.error_body = [](int status, const std::string& code, const std::string& message) {
        return proxy::error_json(status, code, message);
    };
    http_->front =
        std::make_unique<http::Front>(front, new proxy::RequestHandlerFactory(http_->door));
    for (size_t i = 0; i < http_->listeners.size(); ++i) {
        const bool tls = server.listen[i].tls;
        http_->front->add_listener(http_->listeners[i], tls);
        spdlog::info("listening on {}://{} ({} request threads)", tls ? "https" : "http",
                     http_->listeners[i].address().toString(), server.threads);
    }
    if (metrics_listener) {
        http_->front->add_listener(*metrics_listener, false);
        http_->listeners.push_back(*metrics_listener);  // last: port() stays the first listener's
        spdlog::info("metrics on http://{}/metrics", metrics_listener->address().toString());
    }
    if (tls_) {
        http_->front->set_tls(tls_);
        spdlog::info("TLS certificate {} ({})", server.tls.cert, tls_->description());
    }
    http_->front->start();
    for (auto& m : models_) m->start();
}

uint16_t Engine::port() const {
    return http_ && !http_->listeners.empty() ? http_->listeners.front().address().port() : 0;
}

void Engine::stop(const std::atomic<bool>& hurry) {
    if (stopped_) return;
    stopped_ = true;
    if (http_ && http_->front) {
        http_->door.draining = true;
        http_->front->stop_accepting();  // new clients are refused at once; open requests go on
        auto deadline = Clock::now() + config_.server.drain_timeout;
        for (auto& m : models_) {
            while (!hurry && Clock::now() < deadline &&
                   !m->in_flight().wait_empty(
                       std::min(deadline, Clock::now() + std::chrono::milliseconds(50)))) {
            }
            if (size_t left = m->in_flight().count()) {
                spdlog::warn("model {}: {} request(s) still in flight; ending them", m->name(),
                             left);
            }
        }
    }
    size_t cut_off = 0;
    for (auto& m : models_) cut_off += m->in_flight().count();
    if (http_) http_->door.upstream->clear();  // idle connections must not hold a child up
    for (auto& m : models_) m->request_stop();
    for (auto& m : models_) m->join();
    if (cut_off > 0) {
        // Requests cut off by the stop are writing their last words (an error event or a 502).
        // Their tickets go when the handler returns; Poco writes the final chunk just after.
        auto last_words = Clock::now() + std::chrono::seconds(2);
        for (auto& m : models_) m->in_flight().wait_empty(last_words);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (http_ && http_->front) http_->front->stop();
    spdlog::info("engine stopped");
}

}  // namespace gradatum
