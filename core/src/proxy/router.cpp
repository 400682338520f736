#include "proxy/router.hpp"

#include <nlohmann/json.hpp>

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

Router::Router(std::vector<ModelSupervisor*> models, ModelSupervisor* default_model)
    : models_(std::move(models)), default_model_(default_model) {}

ModelSupervisor* Router::route(const std::string& body, std::string& error) const {
    // One model takes everything, whatever name the client sends (as llama-server does).
    if (models_.size() == 1) return models_.front();
    auto name = body.empty() ? std::nullopt : model_field(body);
    if (!name) return default_model_;
    for (auto* model : models_) {
        if (model->name() == *name) return model;
    }
    error = "model '" + *name + "' is not configured; configured models:";
    for (auto* model : models_) error += " " + model->name();
    return nullptr;
}

}  // namespace gradatum::proxy
