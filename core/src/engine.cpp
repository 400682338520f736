#include "engine.hpp"

#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include "http/front.hpp"
#include "http/tls.hpp"
#include "plugin/backend_instance.hpp"
#include "plugin/plugin_registry.hpp"
#include "proxy/fast_lane.hpp"
#include "proxy/front_door.hpp"
#include "proxy/openai_error.hpp"
#include "proxy/routes.hpp"
#include "supervisor/fleet.hpp"
#include "supervisor/model_supervisor.hpp"

namespace gradatum {

using Clock = std::chrono::steady_clock;

namespace {

FleetSettings fleet_settings(const EngineConfig& config) {
    FleetSettings settings;
    settings.max_running = config.server.max_running;
    settings.max_wait_for_swap = config.server.max_wait_for_swap;
    for (const auto& group : config.groups) {
        if (group.exclusive) settings.exclusive_groups.insert(group.name);
    }
    return settings;
}

bool any_tls(const EngineConfig& config) {
    const auto& listen = config.server.listen;
    return std::any_of(listen.begin(), listen.end(), [](const ListenAddress& a) { return a.tls; });
}

// The raw keys that a model's plugin instance and supervisor are made from: its own
// models.<name>.* and the plugins' global keys (anything outside the core's sections).
std::map<std::string, std::string> model_keys(const EngineConfig& config, const std::string& name) {
    std::map<std::string, std::string> keys;
    const std::string own = "models." + name + ".";
    for (const auto& [key, value] : config.raw) {
        const bool core = key.rfind("models.", 0) == 0 || key.rfind("server.", 0) == 0 ||
                          key.rfind("logging.", 0) == 0 || key.rfind("groups.", 0) == 0;
        if (key.rfind(own, 0) == 0 || !core) keys[key] = value;
    }
    return keys;
}

// server.* keys a reload applies; a change to any other one waits for a restart.
bool reloadable_server_key(const std::string& key) {
    static const std::set<std::string> keys = {"server.listen",
                                               "server.api_keys",
                                               "server.api_keys_file",
                                               "server.admin_keys",
                                               "server.default_model",
                                               "server.max_running",
                                               "server.max_wait_for_swap",
                                               "server.health_requires_key",
                                               "server.allow_wildcard"};
    return keys.count(key) || key.rfind("server.tls.", 0) == 0;
}

struct Desired {
    ListenAddress address;
    bool tls;
    std::string key;  // the config key, for messages
};

// Every listener the config asks for except server.metrics_listen, by listener_key().
std::map<std::string, Desired> desired_listeners(const EngineConfig& config) {
    std::map<std::string, Desired> wanted;
    for (const auto& listen : config.server.listen) {
        wanted[proxy::listener_key(listen)] = {listen, listen.tls, "server.listen"};
    }
    for (const auto& model : config.models) {
        if (model.listen) {
            wanted[proxy::listener_key(*model.listen)] = {*model.listen, false,
                                                          "models." + model.name + ".listen"};
        }
    }
    return wanted;
}

}  // namespace

struct Engine::Http {
    Http(const ServerSettings& s, std::vector<std::string> names)
        : metrics(std::move(names)),
          door{s.upstream_idle_timeout,
               static_cast<std::streamsize>(s.max_body_mb) * 1024 * 1024,
               s.client_idle_timeout,
               s.drain_timeout,
               metrics,
               s.metrics_children,
               std::nullopt,
               [this] { return front ? front->busy_workers() : 0; },
               /*access_log=*/true,
               {},
               nullptr,
               {},
               {},
               {}} {
        door.upstream = std::make_unique<proxy::UpstreamPool>(
            proxy::UpstreamSettings{s.upstream_connect_timeout, s.upstream_header_timeout,
                                    static_cast<size_t>(s.upstream_keepalive)});
    }

    struct Listener {
        Poco::Net::ServerSocket socket;
        bool tls;
    };
    ops::Metrics metrics;  // before `door`, which refers to it
    proxy::FrontDoor door;
    std::map<std::string, Listener> listeners;  // by listener_key(), metrics_listen aside
    uint16_t first_port = 0;                    // server.listen's first
    std::unique_ptr<http::Front> front;
};

Engine::Engine(EngineConfig config, const std::string& plugin_dir)
    : config_(std::move(config)), plugin_dir_(plugin_dir) {
    plugins_ = std::make_unique<PluginRegistry>(config_.raw);
    plugins_->load_directory(plugin_dir);
    for (const auto& model : config_.models) models_[model.name] = make_model(model, config_);
    if (any_tls(config_)) {
        try {
            tls_ = http::TlsContext::load(config_.server.tls);
        } catch (const http::TlsError& e) {
            throw ConfigError(config_error_text(config_.source_path, e.key(), e.what()));
        }
    }
    fleet_ = std::make_unique<Fleet>(fleet_settings(config_));
}

std::shared_ptr<ModelSupervisor> Engine::make_model(const ModelSettings& model,
                                                    const EngineConfig& config) const {
    const Plugin* plugin = plugins_->find(model.backend);
    if (!plugin || !plugin->backend) {
        std::string loaded;
        for (const auto& id : plugins_->ids()) loaded += (loaded.empty() ? "" : ", ") + id;
        throw ConfigError(
            config_error_text(config.source_path, "models." + model.name + ".backend",
                              "model '" + model.name + "' needs backend plugin '" + model.backend +
                                  "', which is not loaded from " + plugin_dir_ +
                                  " (loaded: " + (loaded.empty() ? "none" : loaded) + ")"));
    }
    auto backend = std::make_unique<BackendInstance>(*plugin, model, config.source_path);
    auto supervisor = std::make_shared<ModelSupervisor>(model, std::move(backend));
    if (observer_) supervisor->set_state_observer(observer_);
    return supervisor;
}

void Engine::set_state_observer(StateObserver observer) {
    observer_ = std::move(observer);
    for (auto& [name, m] : models_) m->set_state_observer(observer_);
}

std::vector<std::string> Engine::model_names() const {
    std::vector<std::string> names;
    for (const auto& [name, m] : models_) names.push_back(name);
    return names;
}

std::vector<std::string> Engine::autostart_model_names() const {
    std::vector<std::string> names;
    for (const auto& [name, m] : models_) {
        // READY=1 waits for what the engine loads: a remote target has nothing to load.
        if (m->settings().autostart && m->has_process()) names.push_back(name);
    }
    return names;
}

Engine::~Engine() {
    std::atomic<bool> hurry{true};
    stop(hurry);
}

Poco::Net::ServerSocket Engine::bind(const ListenAddress& listen, const std::string& key) const {
    if (Poco::Net::IPAddress(listen.host).isWildcard()) {
        spdlog::warn("listening on every interface ({}:{}): server.allow_wildcard is set",
                     listen.host, listen.port);
    }
    Poco::Net::ServerSocket socket;
    try {
        // SO_REUSEADDR for quick restarts, but not SO_REUSEPORT: a second engine must not share
        // the port.
        socket.bind(Poco::Net::SocketAddress(listen.host, listen.port), /*reuseAddress=*/true,
                    /*reusePort=*/false);
        socket.listen(std::max(64, config_.server.max_queued));
    } catch (const Poco::Exception& e) {
        throw ListenError("cannot listen on " + listen.host + ":" + std::to_string(listen.port) +
                          " (" + config_.source_path + ": " + key + "): " + e.displayText());
    }
    return socket;
}

void Engine::publish_routes() {
    std::vector<std::shared_ptr<ModelSupervisor>> models;
    for (const auto& [name, m] : models_) models.push_back(m);
    http_->door.routes.set(proxy::build_routes(config_, std::move(models)));
}

void Engine::start() {
    const ServerSettings& server = config_.server;
    http_ = std::make_unique<Http>(server, model_names());

    // Every listener is bound before anything is spawned: a bad address costs nothing.
    for (const auto& listen : server.listen) {
        auto socket = bind(listen, "server.listen");
        if (!http_->first_port) http_->first_port = socket.address().port();
        http_->listeners[proxy::listener_key(listen)] = {socket, listen.tls};
    }
    for (const auto& model : config_.models) {
        if (!model.listen) continue;
        http_->listeners[proxy::listener_key(*model.listen)] = {
            bind(*model.listen, "models." + model.name + ".listen"), false};
    }
    std::optional<Poco::Net::ServerSocket> metrics_listener;
    http_->door.access_log = config_.log_access;
    if (server.metrics_listen) {
        metrics_listener = bind(*server.metrics_listen, "server.metrics_listen");
        http_->door.metrics_address = metrics_listener->address();
    }
    http_->door.fleet = fleet_.get();
    http_->door.reload = [this] { return reload(); };
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
    front.loops = server.event_threads > 0
                      ? server.event_threads
                      : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
    if (server.fast_lane && server.upstream_keepalive > 0) {
        front.make_fast_lane = [door = &http_->door, timeout = server.client_send_timeout] {
            return std::make_shared<proxy::FastLane>(*door, timeout);
        };
    }
    http_->front =
        std::make_unique<http::Front>(front, new proxy::RequestHandlerFactory(http_->door));
    for (auto& entry : http_->listeners) {
        const std::string& key = entry.first;
        Http::Listener& listener = entry.second;
        http_->front->add_listener(listener.socket, listener.tls);
        auto pinned = std::find_if(config_.models.begin(), config_.models.end(), [&](auto& m) {
            return m.listen && proxy::listener_key(*m.listen) == key;
        });
        spdlog::info("listening on {}://{}{} ({} request threads, {} event threads{})",
                     listener.tls ? "https" : "http", listener.socket.address().toString(),
                     pinned == config_.models.end() ? "" : " for model " + pinned->name,
                     server.threads, front.loops,
                     front.make_fast_lane ? ", fast lane for small requests" : "");
    }
    if (metrics_listener) {
        http_->front->add_listener(*metrics_listener, false);
        spdlog::info("metrics on http://{}/metrics", metrics_listener->address().toString());
    }
    if (tls_) {
        http_->front->set_tls(tls_);
        spdlog::info("TLS certificate {} ({})", server.tls.cert, tls_->description());
    }
    publish_routes();
    // In the fleet before the first request can arrive.
    for (auto& [name, m] : models_) {
        fleet_->add(m);
        m->start();
        if (!m->settings().autostart) {
            spdlog::info("model {}: starts on its first request", name);
        }
    }
    // The autostart models are loaded before the first request can ask /health: in between,
    // a model not yet loaded would look like an idle on-demand one, and /health would say 200.
    fleet_->start();
    http_->front->start();
    started_ = true;
}

uint16_t Engine::port() const {
    return http_ ? http_->first_port : 0;
}

void Engine::retire_later(std::shared_ptr<ModelSupervisor> model) {
    retirements_.emplace_back([this, model, drain = config_.server.drain_timeout] {
        fleet_->retire(*model, drain);
        model->request_stop();
        model->join();
    });
}

proxy::ReloadResult Engine::reload() {
    std::lock_guard<std::mutex> lock(reload_mutex_);
    proxy::ReloadResult result;
    auto refuse = [&](proxy::ReloadResult& r) {
        for (const auto& error : r.errors) spdlog::error("reload refused: {}", error);
        spdlog::error("reload refused: the running configuration stays");
        r.ok = false;
        return r;
    };
    if (!started_ || stopped_) {
        result.errors.push_back("the engine is not running");
        return refuse(result);
    }
    std::vector<std::string> problems;
    EngineConfig fresh = check_config(config_.source_path, problems);
    result.errors = problems;
    if (!result.errors.empty()) return refuse(result);

    // Build everything that could fail before changing anything.
    std::map<std::string, std::shared_ptr<ModelSupervisor>> next, added, changed;
    for (const auto& model : fresh.models) {
        auto it = models_.find(model.name);
        if (it != models_.end() &&
            model_keys(config_, model.name) == model_keys(fresh, model.name)) {
            next[model.name] = it->second;
            continue;
        }
        try {
            auto made = make_model(model, fresh);
            next[model.name] = made;
            (it == models_.end() ? added : changed)[model.name] = made;
        } catch (const ConfigError& e) {
            result.errors.push_back(e.what());
        }
    }
    std::shared_ptr<http::TlsContext> fresh_tls;
    if (any_tls(fresh)) {
        try {
            fresh_tls = http::TlsContext::load(fresh.server.tls);
        } catch (const http::TlsError& e) {
            result.errors.push_back(config_error_text(fresh.source_path, e.key(), e.what()) +
                                    "; keeping the current TLS certificate");
        }
    }
    const auto wanted = desired_listeners(fresh);
    std::map<std::string, Http::Listener> bound;
    for (const auto& [key, want] : wanted) {
        if (http_->listeners.count(key)) continue;
        try {
            bound[key] = {bind(want.address, want.key), want.tls};
        } catch (const ListenError& e) {
            result.errors.push_back(e.what());
        }
    }
    if (!result.errors.empty()) return refuse(result);  // new sockets and models just go

    // Apply.
    if (fresh_tls) {
        tls_ = fresh_tls;
        http_->front->set_tls(fresh_tls);
        spdlog::info("reload: TLS certificate {} ({}) for new connections", fresh.server.tls.cert,
                     fresh_tls->description());
    }
    for (auto& [key, listener] : bound) {
        http_->front->add_listener(listener.socket, listener.tls);
        http_->listeners[key] = listener;
        result.changes.push_back("listening on " + listener.socket.address().toString());
    }
    for (auto it = http_->listeners.begin(); it != http_->listeners.end();) {
        if (wanted.count(it->first)) {
            ++it;
            continue;
        }
        http_->front->remove_listener(it->second.socket.address());
        result.changes.push_back("no longer listening on " + it->first);
        it = http_->listeners.erase(it);
    }
    for (const auto& [key, value] : fresh.raw) {
        if (key.rfind("server.", 0) != 0 || reloadable_server_key(key)) continue;
        auto old = config_.raw.find(key);
        if (old == config_.raw.end() || old->second != value) {
            result.changes.push_back(key + " changed: takes effect after a restart");
        }
    }
    fleet_->set_settings(fleet_settings(fresh));
    std::vector<std::shared_ptr<ModelSupervisor>> leaving;
    for (auto& [name, old] : models_) {
        if (next.count(name) && next[name] == old) {
            result.changes.push_back("model " + name + ": unchanged");
        } else {
            leaving.push_back(old);
        }
    }
    for (auto& [name, model] : added) {
        fleet_->add(model);
        model->start();
        result.changes.push_back("model " + name + ": added");
    }
    for (auto& [name, model] : changed) {
        fleet_->add(model, models_[name].get());
        model->start();
        result.changes.push_back("model " + name + ": changed; restarts after its requests");
    }
    for (auto& old : leaving) {
        if (!next.count(old->name())) {
            result.changes.push_back("model " + old->name() +
                                     ": removed; stops after its requests");
        }
    }
    config_ = std::move(fresh);
    models_ = std::move(next);
    publish_routes();  // before the old ones leave: new requests find the new models
    for (auto& old : leaving) retire_later(old);
    for (const auto& change : result.changes) spdlog::info("reload: {}", change);
    result.ok = true;
    return result;
}

void Engine::stop(const std::atomic<bool>& hurry) {
    std::vector<std::shared_ptr<ModelSupervisor>> models;
    {
        // Not held for the drain: a POST /admin/reload being served must be able to finish.
        std::lock_guard<std::mutex> lock(reload_mutex_);
        if (stopped_) return;
        stopped_ = true;
        for (auto& [name, m] : models_) models.push_back(m);
    }
    if (http_ && http_->front) {
        http_->door.draining = true;
        http_->front->stop_accepting();  // new clients are refused at once; open requests go on
        auto deadline = Clock::now() + config_.server.drain_timeout;
        for (auto& m : models) {
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
    for (auto& m : models) cut_off += m->in_flight().count();
    fleet_->stop();                            // requests waiting for a load give up
    if (http_) http_->door.upstream->clear();  // idle connections must not hold a child up
    for (auto& m : models) m->request_stop(/*save_state=*/!hurry);
    for (auto& retirement : retirements_) retirement.join();
    for (auto& m : models) m->join();
    if (cut_off > 0) {
        // Requests cut off by the stop are writing their last words (an error event or a 502).
        // Their tickets go when the handler returns; the front writes the final chunk just after.
        auto last_words = Clock::now() + std::chrono::seconds(2);
        for (auto& m : models) m->in_flight().wait_empty(last_words);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (http_ && http_->front) http_->front->stop();
    spdlog::info("engine stopped");
}

}  // namespace gradatum
