#include "proxy/router.hpp"

#include <nlohmann/json.hpp>

#include <set>

#include "supervisor/model_supervisor.hpp"

namespace gradatum::proxy {

namespace {

// Finds the top-level "model" string without building the document, and stops there: a vision
// request carries MiB of base64 that routing does not need in memory twice.
class ModelFieldScanner : public nlohmann::json_sax<nlohmann::json> {
  public:
    std::optional<std::string> model;

    bool null() override { return value(); }
    bool boolean(bool) override { return value(); }
    bool number_integer(number_integer_t) override { return value(); }
    bool number_unsigned(number_unsigned_t) override { return value(); }
    bool number_float(number_float_t, const string_t&) override { return value(); }
    bool binary(binary_t&) override { return value(); }
    bool string(string_t& text) override {
        if (depth_ == 1 && at_model_) {
            model = std::move(text);
            return false;  // found: stop scanning
        }
        return value();
    }
    bool start_object(std::size_t) override { return open(); }
    bool start_array(std::size_t) override { return depth_ == 0 ? false : open(); }
    bool end_object() override { return close(); }
    bool end_array() override { return close(); }
    bool key(string_t& name) override {
        if (depth_ == 1) at_model_ = name == "model";
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        return false;
    }

  private:
    // A "model" that is not a string names no model: stop, the default applies.
    bool value() { return !(depth_ == 1 && at_model_); }
    bool open() {
        if (depth_ == 1 && at_model_) return false;
        ++depth_;
        return true;
    }
    bool close() {
        --depth_;
        return depth_ > 0;  // the top-level object ended without a "model"
    }

    int depth_ = 0;
    bool at_model_ = false;
};

}  // namespace

std::optional<std::string> model_field(const std::string& body) {
    ModelFieldScanner scanner;
    nlohmann::json::sax_parse(body, &scanner, nlohmann::json::input_format_t::json,
                              /*strict=*/false);
    return scanner.model;
}

Router::Router(std::map<std::string, ModelSupervisor*> names, ModelSupervisor* default_model)
    : names_(std::move(names)), default_model_(default_model) {
    std::set<ModelSupervisor*> models;
    for (const auto& [name, model] : names_) models.insert(model);
    single_ = models.size() == 1;
}

ModelSupervisor* Router::find(const std::string& name) const {
    auto it = names_.find(name);
    return it == names_.end() ? nullptr : it->second;
}

std::string Router::known() const {
    std::string list;
    for (const auto& [name, model] : names_) list += " " + name;
    return list;
}

ModelSupervisor* Router::route(const std::optional<std::string>& name, std::string& error) const {
    if (single_) return names_.begin()->second;
    if (!name) {
        if (default_model_) return default_model_;
        error = "the request names no model and there is no default (server.default_model); "
                "configured models:" +
                known();
        return nullptr;
    }
    if (auto* model = find(*name)) return model;
    error = "model '" + *name + "' is not configured; configured models:" + known();
    return nullptr;
}

}  // namespace gradatum::proxy
