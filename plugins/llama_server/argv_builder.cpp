#include "argv_builder.hpp"

namespace llama_server {

std::vector<std::string> build_argv(const Settings& s, const std::string& host, uint16_t port) {
    std::vector<std::string> argv = {s.binary, "--model",           s.model, "--host", host,
                                     "--port", std::to_string(port)};
    auto add = [&](const char* flag, const std::string& value) {
        argv.push_back(flag);
        argv.push_back(value);
    };
    if (s.ctx_size) add("--ctx-size", std::to_string(*s.ctx_size));
    if (s.threads) add("--threads", std::to_string(*s.threads));
    if (s.n_gpu_layers) add("--n-gpu-layers", *s.n_gpu_layers);
    if (s.parallel) add("--parallel", std::to_string(*s.parallel));
    if (s.mmproj) add("--mmproj", *s.mmproj);
    if (s.embeddings) argv.push_back("--embeddings");
    if (s.alias) add("--alias", *s.alias);
    argv.insert(argv.end(), s.extra_args.begin(), s.extra_args.end());
    return argv;
}

std::vector<std::string> build_env(const Settings&, const std::string& api_key) {
    std::vector<std::string> env;
    if (!api_key.empty()) env.push_back("LLAMA_API_KEY=" + api_key);
    return env;
}

std::vector<std::string> build_env(const Settings& s) {
    return build_env(s, s.api_key.value_or(""));
}

}  // namespace llama_server
