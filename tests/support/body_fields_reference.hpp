// What nlohmann's own parser makes of a body's routing fields under scan_body_fields' rules
// (first top-level "model" and "stream", stop once both are seen, nothing for a body broken
// before that): the reference the fuzzer and the unit tests hold the hand scanner to.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "proxy/body_fields.hpp"

namespace gradatum::test {

class BodyFieldsReference : public nlohmann::json_sax<nlohmann::json> {
  public:
    proxy::BodyFields found;
    bool stopped = false;     // both fields seen: the parse was ended there
    bool failed = false;      // nlohmann found the body malformed first
    bool not_object = false;  // the top-level value is not an object

    bool null() override { return value(); }
    bool boolean(bool v) override { return value(nullptr, v); }
    bool number_integer(number_integer_t) override { return value(); }
    bool number_unsigned(number_unsigned_t) override { return value(); }
    bool number_float(number_float_t, const string_t&) override { return value(); }
    bool binary(binary_t&) override { return value(); }
    bool string(string_t& text) override { return value(&text); }
    bool start_object(std::size_t) override {
        ++depth_;
        return true;
    }
    bool start_array(std::size_t) override {
        if (depth_ == 0) {
            not_object = true;
            return false;
        }
        ++depth_;
        return true;
    }
    bool end_object() override { return close(); }
    bool end_array() override { return close(); }
    bool key(string_t& name) override {
        if (depth_ == 1) {
            if (!model_seen_ && name == "model")
                pending_ = Field::model;
            else if (!stream_seen_ && name == "stream")
                pending_ = Field::stream;
            else
                pending_ = Field::other;
        }
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        failed = true;
        return false;
    }

  private:
    enum class Field { other, model, stream };

    bool close() {
        --depth_;
        return depth_ == 1 ? value() : true;
    }
    // A value at depth 1 is a top-level member's (containers when they close).
    bool value(string_t* text = nullptr, bool is_true = false) {
        if (depth_ != 1) return true;
        if (pending_ == Field::model) {
            model_seen_ = true;
            if (text) found.model = *text;
        } else if (pending_ == Field::stream) {
            stream_seen_ = true;
            found.stream = is_true;
        }
        pending_ = Field::other;
        if (model_seen_ && stream_seen_) {
            stopped = true;
            return false;
        }
        return true;
    }

    int depth_ = 0;
    Field pending_ = Field::other;
    bool model_seen_ = false;
    bool stream_seen_ = false;
};

inline proxy::BodyFields reference_body_fields(const std::string& body) {
    BodyFieldsReference ref;
    nlohmann::json::sax_parse(body, &ref, nlohmann::json::input_format_t::json, /*strict=*/true);
    if (ref.not_object || (ref.failed && !ref.stopped)) return {};
    return ref.found;
}

}  // namespace gradatum::test
