#include "placeholders.hpp"

namespace command {

namespace {

const char kKnown[] = "known: {port}, {host}, {model_name}; write {{ and }} for literal braces";

}  // namespace

Template Template::parse(const std::string& text) {
    Template t;
    std::string literal;
    auto flush = [&] {
        if (literal.empty()) return;
        t.pieces_.push_back({false, Placeholder::port, literal});
        literal.clear();
    };
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '}') {
            if (i + 1 < text.size() && text[i + 1] == '}') {
                literal += '}';
                ++i;
                continue;
            }
            throw TemplateError("a lone } (" + std::string(kKnown) + ")");
        }
        if (c != '{') {
            literal += c;
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '{') {
            literal += '{';
            ++i;
            continue;
        }
        size_t close = text.find('}', i + 1);
        if (close == std::string::npos) {
            throw TemplateError("a { that no } closes (" + std::string(kKnown) + ")");
        }
        std::string name = text.substr(i + 1, close - i - 1);
        Placeholder which;
        if (name == "port")
            which = Placeholder::port;
        else if (name == "host")
            which = Placeholder::host;
        else if (name == "model_name")
            which = Placeholder::model_name;
        else
            throw TemplateError("unknown placeholder {" + name + "} (" + kKnown + ")");
        flush();
        t.pieces_.push_back({true, which, {}});
        i = close;
    }
    flush();
    return t;
}

bool Template::uses(Placeholder which) const {
    for (const auto& piece : pieces_) {
        if (piece.is_placeholder && piece.which == which) return true;
    }
    return false;
}

bool Template::has_placeholders() const {
    for (const auto& piece : pieces_) {
        if (piece.is_placeholder) return true;
    }
    return false;
}

std::string Template::render(const PlaceholderValues& values) const {
    std::string out;
    for (const auto& piece : pieces_) {
        if (!piece.is_placeholder) {
            out += piece.literal;
            continue;
        }
        switch (piece.which) {
            case Placeholder::port:
                out += std::to_string(values.port);
                break;
            case Placeholder::host:
                out += values.host;
                break;
            case Placeholder::model_name:
                out += values.model_name;
                break;
        }
    }
    return out;
}

}  // namespace command
