// Config lines and request bodies the integration tests share.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace ge_test {

// The config lines for one model run by the fake llama-server.
std::string fake_model_config(const std::string& name, const std::string& model_path,
                              const std::string& fake_args);

// The config lines for model "tiny" run by the real llama-server (see real_parts()).
std::string real_model_config(const std::string& extra = "");
// The same for a model called `name`: several names may share the one tiny GGUF.
std::string real_named_model_config(const std::string& name, const std::string& extra = "");

// The tiny random model's byte tokens (ids 3-258 of its llama vocabulary), banned: random bytes
// form invalid UTF-8, which llama-server's chat output parser answers with a 500 ("does not
// match the expected ... format"). Object form, so that a request's own entries merge in.
nlohmann::json banned_byte_tokens();
// A short chat for `model` that the tiny model always answers: greedy, byte tokens banned.
std::string tiny_chat(const std::string& model, int max_tokens = 8);

// Chat requests for model "m", plain and streamed.
inline const std::string kChat = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
inline const std::string kStreamChat =
    R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";

}  // namespace ge_test
