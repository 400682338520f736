// What finding a request's routing fields costs: a full nlohmann parse, the SAX scan the router
// used before (copied below as "before"), and scan_body_fields, on an 8 MiB vision-style chat
// body whose "model" comes after the image, and on a small chat body. Rounds alternate the
// variants; each figure is the median (min–max) over rounds, ratios taken inside the run.
//   build/bench/bench_route [rounds, default 21]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "proxy/body_fields.hpp"

namespace {

// ---- before: router.cpp's model_field() up to this change, verbatim.
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
    bool value() { return !(depth_ == 1 && at_model_); }
    bool open() {
        if (depth_ == 1 && at_model_) return false;
        ++depth_;
        return true;
    }
    bool close() {
        --depth_;
        return depth_ > 0;
    }

    int depth_ = 0;
    bool at_model_ = false;
};

std::optional<std::string> model_field_before(const std::string& body) {
    ModelFieldScanner scanner;
    nlohmann::json::sax_parse(body, &scanner, nlohmann::json::input_format_t::json,
                              /*strict=*/false);
    return scanner.model;
}
// ---- end of before

std::optional<std::string> model_full_parse(const std::string& body) {
    auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) return std::nullopt;
    auto it = json.find("model");
    if (it == json.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

std::optional<std::string> model_scan(const std::string& body) {
    return gradatum::proxy::scan_body_fields(body).model;
}

// An OpenAI vision chat request: a text part, then a PNG's base64 (random, so nothing repeats),
// then the sampling fields, the model and stream last: the worst case for a scan that stops.
std::string vision_body(std::size_t image_bytes) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::mt19937 random(42);
    std::string image;
    image.reserve(image_bytes);
    for (std::size_t i = 0; i < image_bytes; ++i) image.push_back(alphabet[random() % 64]);
    return R"({"messages":[{"role":"system","content":"You describe images."},)"
           R"({"role":"user","content":[{"type":"text","text":"What is in this picture?"},)"
           R"({"type":"image_url","image_url":{"url":"data:image/png;base64,)" +
           image +
           R"(","detail":"high"}}]}],"max_tokens":512,"temperature":0.7,"top_p":0.95,)"
           R"("model":"qwen2.5-vl-7b-instruct","stream":true})";
}

const std::string kSmallBody =
    R"({"model":"qwen2.5-7b-instruct","messages":[{"role":"system","content":"You are a helpful )"
    R"(assistant."},{"role":"user","content":"Write a haiku about the sea, and explain its )"
    R"(imagery in two sentences."}],"temperature":0.7,"top_p":0.95,"max_tokens":256,)"
    R"("stream":true,"stop":["\n\n\n"],"seed":1234})";

struct Variant {
    const char* name;
    std::function<std::optional<std::string>(const std::string&)> find;
    std::vector<double> ms;  // per call, one entry per round
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Rounds alternate the variants (the order rotates); each round times `calls` calls per variant.
void run(const char* title, const std::string& body, int rounds, int calls) {
    std::vector<Variant> variants = {{"nlohmann::json::parse (full)", model_full_parse, {}},
                                     {"before: SAX model_field", model_field_before, {}},
                                     {"scan_body_fields", model_scan, {}}};
    for (auto& v : variants) {
        auto found = v.find(body);
        if (!found || *found != *variants[0].find(body)) {
            std::fprintf(stderr, "%s: %s found no or another model\n", title, v.name);
            std::exit(1);
        }
    }
    std::size_t sink = 0;
    for (int round = 0; round < rounds; ++round) {
        for (std::size_t k = 0; k < variants.size(); ++k) {
            auto& v = variants[(k + round) % variants.size()];
            auto start = std::chrono::steady_clock::now();
            for (int i = 0; i < calls; ++i) sink += v.find(body)->size();
            v.ms.push_back(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count() /
                calls);
        }
    }
    // Per call in ms for the large body, in µs for the small ones (many calls per round).
    const bool micro = calls > 1;
    const double scale = micro ? 1000.0 : 1.0;
    std::printf("\n%s: %zu bytes, %d rounds of %d call(s); median (min-max) per call\n\n", title,
                body.size(), rounds, calls);
    std::printf(
        "| variant | %s per call | MB/s | time vs full parse | time vs before | faster than "
        "before |\n",
        micro ? "us" : "ms");
    std::printf("|---|---|---|---|---|---|\n");
    double full = median(variants[0].ms), sax = median(variants[1].ms);
    for (auto& v : variants) {
        double m = median(v.ms);
        auto [lo, hi] = std::minmax_element(v.ms.begin(), v.ms.end());
        std::printf("| %s | %.3g (%.3g-%.3g) | %.0f | %.3f | %.3f | %.1fx |\n", v.name, m * scale,
                    *lo * scale, *hi * scale, static_cast<double>(body.size()) / 1e3 / m, m / full,
                    m / sax, sax / m);
    }
    if (!micro) {
        // The floor for one pass: memchr for a byte that is not there reads the whole body.
        std::vector<double> floor;
        for (int round = 0; round < rounds; ++round) {
            auto start = std::chrono::steady_clock::now();
            sink += std::memchr(body.data(), '\x01', body.size()) == nullptr;
            floor.push_back(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count());
        }
        std::printf("\nfloor, memchr over the whole body: %.3g ms (%.0f MB/s)\n", median(floor),
                    static_cast<double>(body.size()) / 1e3 / median(floor));
    }
    if (sink == 42) std::printf(" ");  // keeps the calls from being optimized away
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 21;
    run("8 MiB vision chat body, model after the image", vision_body(8u << 20), rounds, 1);
    run("small chat body (model first, stream later)", kSmallBody, rounds, 20000);
    // The same fields, model moved last: the old scan now reads the whole body too.
    std::string model_last = kSmallBody;
    const std::string model = R"("model":"qwen2.5-7b-instruct",)";
    model_last.erase(1, model.size());
    model_last.insert(model_last.size() - 1, "," + model.substr(0, model.size() - 1));
    run("small chat body (model last)", model_last, rounds, 20000);
}
