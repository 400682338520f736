#include "test_configs.hpp"

#include "build_paths.hpp"
#include "real_parts.hpp"

namespace ge_test {

std::string fake_model_config(const std::string& name, const std::string& model_path,
                              const std::string& fake_args) {
    std::string prefix = "models." + name + ".";
    return prefix + "backend = llama_server\n" + prefix +
           "llama_server.binary = " + fake_llama_server() + "\n" + prefix +
           "llama_server.model = " + model_path + "\n" + prefix +
           "llama_server.args = " + fake_args + "\n";
}

std::string real_model_config(const std::string& extra) {
    return real_named_model_config("tiny", extra);
}

std::string real_named_model_config(const std::string& name, const std::string& extra) {
    const RealParts& parts = real_parts();
    const std::string prefix = "models." + name + ".";
    return prefix + "backend = llama_server\n" + prefix +
           "llama_server.binary = " + parts.llama_server + "\n" + prefix +
           "llama_server.model = " + parts.model + "\n" + extra;
}

nlohmann::json banned_byte_tokens() {
    nlohmann::json bias = nlohmann::json::object();
    for (int token = 3; token < 259; ++token) bias[std::to_string(token)] = false;
    return bias;
}

std::string tiny_chat(const std::string& model, int max_tokens) {
    return nlohmann::json{
        {"model", model},
        {"max_tokens", max_tokens},
        {"temperature", 0},
        {"seed", 1},
        {"logit_bias", banned_byte_tokens()},
        {"messages", nlohmann::json::array({{{"role", "user"}, {"content", "Say hi"}}})}}
        .dump();
}

}  // namespace ge_test
