#include "common/split_args.hpp"

#include <cctype>

#include "common/settings_error.hpp"

namespace plugin_common {

std::vector<std::string> split_args(const std::string& args, const std::string& key) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (size_t i = 0; i < args.size(); ++i) {
        char c = args[i];
        if (quote) {
            if (c == quote)
                quote = 0;
            else if (c == '\\' && quote == '"' && i + 1 < args.size())
                word += args[++i];
            else
                word += c;
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == '\\' && i + 1 < args.size()) {
            word += args[++i];
            in_word = true;
        } else if (std::isspace(static_cast<unsigned char>(c))) {
            if (in_word) words.push_back(word);
            word.clear();
            in_word = false;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (quote) throw SettingsError(key, "unterminated quote in '" + args + "'");
    if (in_word) words.push_back(word);
    return words;
}

}  // namespace plugin_common
