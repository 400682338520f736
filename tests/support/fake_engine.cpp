#include "fake_engine.hpp"

#include <Poco/Base64Decoder.h>

#include <sstream>

#include "test_configs.hpp"

namespace ge_test {

FakeEngine::FakeEngine(const std::string& fake_args, const std::string& extra_config) {
    model = files.write("model.gguf", "not really a model");
    engine = std::make_unique<Engine>(fake_model_config("m", model, fake_args) + extra_config);
}

std::string base64_decode(const std::string& text) {
    std::istringstream in(text);
    Poco::Base64Decoder decoder(in);
    return std::string(std::istreambuf_iterator<char>(decoder), {});
}

}  // namespace ge_test
