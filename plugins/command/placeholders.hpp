// {port}, {host} and {model_name} in command.argv words and command.env values: parsed (and
// refused when wrong) when the config is read, filled in at every spawn. A placeholder may be a
// whole word or part of one (--port={port}, http://{host}:{port}); {{ and }} are literal braces.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace command {

enum class Placeholder { port, host, model_name };

// What is wrong with a template, for the settings parser to put behind the key.
struct TemplateError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct PlaceholderValues {
    uint16_t port = 0;
    std::string host;
    std::string model_name;
};

class Template {
  public:
    // Throws TemplateError for an unknown placeholder, an unclosed { or a lone }.
    static Template parse(const std::string& text);

    bool uses(Placeholder which) const;
    bool has_placeholders() const;
    std::string render(const PlaceholderValues& values) const;

  private:
    struct Piece {
        bool is_placeholder = false;
        Placeholder which = Placeholder::port;
        std::string literal;
    };
    std::vector<Piece> pieces_;
};

}  // namespace command
