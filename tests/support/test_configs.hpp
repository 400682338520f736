// Config lines and request bodies the integration tests share.
#pragma once

#include <string>

namespace ge_test {

// The config lines for one model run by the fake llama-server.
std::string fake_model_config(const std::string& name, const std::string& model_path,
                              const std::string& fake_args);

// The config lines for model "tiny" run by the real llama-server (see real_parts()).
std::string real_model_config(const std::string& extra = "");
// The same for a model called `name`: several names may share the one tiny GGUF.
std::string real_named_model_config(const std::string& name, const std::string& extra = "");

// Chat requests for model "m", plain and streamed.
inline const std::string kChat = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
inline const std::string kStreamChat =
    R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";

}  // namespace ge_test
