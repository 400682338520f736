// The original's promises, proven on the real llama-server: vision inputs (mmproj), tool-call
// parameters, slot ids and llama-server's own sampling fields pass through the engine unchanged.
// Every request goes to the engine and, the same, straight to its child; the answers must agree
// in status, type and content, token for token (greedy or seeded sampling, no prompt cache).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "png_image.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The engine with the real llama-server, and the way to its child around it.
struct Promised {
    std::unique_ptr<Engine> engine;
    uint16_t child = 0;
    Headers auth;  // the child's per-spawn key, read from its environment

    explicit Promised(const std::string& extra = "") {
        engine = std::make_unique<Engine>(
            real_model_config("models.tiny.llama_server.ctx_size = 4096\n" + extra));
        REQUIRE(engine->wait_health(200, 60s));
        child = child_port(*engine);
        REQUIRE(child != 0);
        pid_t pid = only_child(*engine);
        REQUIRE(pid > 0);
        auth = child_auth(pid);
        REQUIRE(auth.size() == 1);
    }
    HttpResult via_engine(const std::string& target, const std::string& body) const {
        return http(engine->port(), "POST", target, body, {{"Content-Type", "application/json"}});
    }
    HttpResult direct(const std::string& target, const std::string& body) const {
        Headers headers = {{"Content-Type", "application/json"}};
        headers.insert(headers.end(), auth.begin(), auth.end());
        return http(child, "POST", target, body, headers);
    }
    StreamResult stream_via_engine(const std::string& target, const std::string& body) const {
        return stream(engine->port(), target, body);
    }
    StreamResult stream_direct(const std::string& target, const std::string& body) const {
        return stream(child, target, body, 30s, 0, nullptr, auth);
    }
};

// An answer without what differs between two runs of the same request: ids and timestamps
// (chatcmpl-…, tool-call ids are random per request), timings, and which slot served it.
json stable(json value) {
    if (value.is_object()) {
        for (const char* key : {"id", "created", "timings", "id_slot", "tokens_cached"}) {
            value.erase(key);
        }
        for (auto& [key, item] : value.items()) item = stable(item);
    } else if (value.is_array()) {
        for (auto& item : value) item = stable(item);
    }
    return value;
}

// A stream's events as stable JSON ("[DONE]" stays a string).
std::vector<json> stable_events(const StreamResult& result) {
    std::vector<json> events;
    for (const auto& event : result.events) {
        REQUIRE(event.rfind("data: ", 0) == 0);
        std::string data = event.substr(6);
        events.push_back(data == "[DONE]" ? json(data) : stable(json::parse(data)));
    }
    return events;
}

// The same request through the engine and directly: same status, type and stable body.
json expect_same(const Promised& real, const std::string& target, const json& body) {
    auto via_engine = real.via_engine(target, body.dump());
    auto direct = real.direct(target, body.dump());
    INFO(target << "\nengine: " << via_engine.body.substr(0, 2000)
                << "\nchild: " << direct.body.substr(0, 2000));
    REQUIRE(direct.status == 200);
    CHECK(via_engine.status == direct.status);
    CHECK(via_engine.header("content-type") == direct.header("content-type"));
    json answer = json::parse(via_engine.body);
    CHECK(stable(answer) == stable(json::parse(direct.body)));
    return answer;
}

// The same streamed request both ways: the same events, in order, to the last.
std::vector<json> expect_same_stream(const Promised& real, const std::string& target,
                                     const json& body) {
    auto via_engine = real.stream_via_engine(target, body.dump());
    auto direct = real.stream_direct(target, body.dump());
    REQUIRE(direct.status == 200);
    CHECK(via_engine.status == 200);
    CHECK(via_engine.header("content-type") == direct.header("content-type"));
    CHECK(via_engine.complete);
    auto events = stable_events(via_engine);
    auto expected = stable_events(direct);
    CHECK(events.size() == expected.size());
    for (size_t i = 0; i < std::min(events.size(), expected.size()); ++i) {
        INFO("event " << i);
        CHECK(events[i] == expected[i]);
    }
    return events;
}

// Greedy, no prompt cache (the second of two identical requests would otherwise start from the
// first one's cache, and a differently batched prompt may round differently).
json greedy(json body) {
    body["temperature"] = 0;
    body["seed"] = 1;
    body["cache_prompt"] = false;
    if (!body.contains("logit_bias")) body["logit_bias"] = banned_byte_tokens();
    return body;
}

double median_ms(std::vector<Clock::duration> samples) {
    std::sort(samples.begin(), samples.end());
    return std::chrono::duration<double, std::milli>(samples[samples.size() / 2]).count();
}

double min_ms(const std::vector<Clock::duration>& samples) {
    return std::chrono::duration<double, std::milli>(
               *std::min_element(samples.begin(), samples.end()))
        .count();
}

// ---- vision -------------------------------------------------------------------------------

std::string vision_config() {
    return "models.tiny.llama_server.mmproj = " + real_mmproj() + "\n";
}

json vision_chat(const std::string& image_url, int max_tokens = 8) {
    json content = json::array({{{"type", "text"}, {"text", "What is in this picture?"}},
                                {{"type", "image_url"}, {"image_url", {{"url", image_url}}}}});
    return greedy({{"max_tokens", max_tokens},
                   {"ignore_eos", true},
                   {"messages", json::array({{{"role", "user"}, {"content", content}}})}});
}

json text_chat(int max_tokens = 8) {
    return greedy(
        {{"max_tokens", max_tokens},
         {"ignore_eos", true},
         {"messages", json::array({{{"role", "user"}, {"content", "What is in this picture?"}}})}});
}

}  // namespace

TEST_CASE(
    "real promises: a small image (image_url data URL) with mmproj, not streamed and "
    "streamed",
    "[real][vision]") {
    Promised real(vision_config());
    auto props = http(real.engine->port(), "GET", "/props");
    REQUIRE(props.status == 200);
    CHECK(json::parse(props.body)["modalities"]["vision"] == true);

    const json body = vision_chat(png_data_url(noise_png(8, 8, 1, 6)));
    json answer = expect_same(real, "/v1/chat/completions", body);
    CHECK(answer["choices"][0]["message"]["role"] == "assistant");
    CHECK(answer["usage"]["completion_tokens"] == 8);
    // The image became prompt tokens (16: 32x32 pixels in 8x8 patches).
    json text_only = expect_same(real, "/v1/chat/completions", text_chat());
    CHECK(answer["usage"]["prompt_tokens"].get<int>() >=
          text_only["usage"]["prompt_tokens"].get<int>() + 16);

    json streamed = body;
    streamed["stream"] = true;
    auto events = expect_same_stream(real, "/v1/chat/completions", streamed);
    REQUIRE(events.size() >= 3);
    CHECK(events.back() == "[DONE]");
}

TEST_CASE(
    "real promises: a large image (several MiB) passes as the child takes it, without "
    "measurable delay",
    "[real][vision][large]") {
    Promised real(vision_config());
    // 1200x1200 noise stored uncompressed: a 4.1 MiB PNG, a 5.5 MiB request body.
    const std::string url = png_data_url(noise_png(1200, 1200, 7));
    const json body = vision_chat(url, 4);
    const std::string wire = body.dump();
    REQUIRE(wire.size() > 5 * 1024 * 1024);

    expect_same(real, "/v1/chat/completions", body);
    json streamed = body;
    streamed["stream"] = true;
    expect_same_stream(real, "/v1/chat/completions", streamed);

    // Routing time: the same request, engine and direct alternately, 7 rounds each. The medians
    // are reported; the check takes the fastest of each, which the other processes on a shared
    // 2-core machine disturb least.
    std::vector<Clock::duration> via_engine, direct;
    for (int round = 0; round < 7; ++round) {
        auto start = Clock::now();
        REQUIRE(real.via_engine("/v1/chat/completions", wire).status == 200);
        via_engine.push_back(Clock::now() - start);
        start = Clock::now();
        REQUIRE(real.direct("/v1/chat/completions", wire).status == 200);
        direct.push_back(Clock::now() - start);
    }
    double engine_ms = median_ms(via_engine), direct_ms = median_ms(direct);
    double engine_min = min_ms(via_engine), direct_min = min_ms(direct);
    std::fprintf(stderr,
                 "large image (%zu bytes), median of 7: engine %.1f ms, direct %.1f ms, added "
                 "%.1f ms (fastest: %.1f vs %.1f ms)\n",
                 wire.size(), engine_ms, direct_ms, engine_ms - direct_ms, engine_min, direct_min);
    INFO("median: engine " << engine_ms << " ms, direct " << direct_ms << " ms; fastest: engine "
                           << engine_min << " ms, direct " << direct_min << " ms");
    // The body is relayed as it arrives: copying 5.5 MiB on loopback costs a few ms. A bound
    // this loose only catches a relay that buffers or dribbles.
    CHECK(engine_min - direct_min < 100.0);
}

// ---- tool calls ----------------------------------------------------------------------------

namespace {

// llama-server with --jinja and a ChatML template that renders tools and <tool_call> (Hermes
// style), so that it builds its tool-call grammar and parser. The vocabulary's space prefix is
// turned off: with it, llama-server (80fb11a) drops the first token of the generation prompt
// when it feeds the prompt to the tool-call grammar (" <" of "<|im_start|>"), and the grammar
// rejects the rest ("Failed to initialize samplers").
std::string tools_config() {
    return "models.tiny.llama_server.args = --jinja --chat-template-file " + source_dir() +
           "/tests/data/tiny-tools.jinja --override-kv "
           "tokenizer.ggml.add_space_prefix=bool:false\n";
}

json function_tool(const std::string& name, const std::string& arg,
                   const std::vector<std::string>& values) {
    json parameters = {{"type", "object"},
                       {"properties", {{arg, {{"type", "string"}, {"enum", values}}}}},
                       {"required", json::array({arg})}};
    return {{"type", "function"},
            {"function",
             {{"name", name}, {"description", "Look up " + arg}, {"parameters", parameters}}}};
}

// A request that must end in one tool call. tool_choice "required" makes llama-server constrain
// the answer with a grammar, but that grammar still allows free text before the call, which a
// random model takes forever; the assistant turn is therefore opened with "<tool_call>\n" (a
// prefill). Whitespace and "<" tokens are banned so that the grammar's only way on is the call's
// JSON (its enums bound the strings), then the end of the turn instead of a second call.
json tool_request() {
    json bias = banned_byte_tokens();
    for (int token : {29871, 259, 1678, 268, 418, 539, 4706, 308, 529, 29966}) {
        bias[std::to_string(token)] = false;
    }
    return greedy(
        {{"max_tokens", 64},
         {"messages", json::array({{{"role", "user"}, {"content", "Weather in Paris?"}},
                                   {{"role", "assistant"}, {"content", "<tool_call>\n"}}})},
         {"tools", json::array({function_tool("get_weather", "city", {"Paris", "Rome"}),
                                function_tool("get_time", "zone", {"UTC", "CET"})})},
         {"tool_choice", "required"},
         {"parallel_tool_calls", false},
         {"logit_bias", bias}});
}

}  // namespace

TEST_CASE(
    "real promises: tools and tool_choice reach the child, its tool calls come back "
    "unchanged",
    "[real][tools]") {
    Promised real(tools_config());
    const json body = tool_request();

    // Not streamed: one call of one of the request's functions, with arguments of its schema.
    auto via_engine = real.via_engine("/v1/chat/completions", body.dump());
    auto direct = real.direct("/v1/chat/completions", body.dump());
    INFO("engine: " << via_engine.body << "\nchild: " << direct.body);
    REQUIRE(direct.status == 200);
    REQUIRE(via_engine.status == 200);
    json answer = json::parse(via_engine.body), expected = json::parse(direct.body);
    CHECK(stable(answer) == stable(expected));
    const json& choice = answer["choices"][0];
    CHECK(choice["finish_reason"] == "tool_calls");
    REQUIRE(choice["message"]["tool_calls"].size() == 1);
    const json& call = choice["message"]["tool_calls"][0];
    CHECK(call["type"] == "function");
    CHECK_FALSE(call["id"].get<std::string>().empty());
    CHECK_FALSE(
        expected["choices"][0]["message"]["tool_calls"][0]["id"].get<std::string>().empty());
    const std::string name = call["function"]["name"];
    json arguments = json::parse(call["function"]["arguments"].get<std::string>());
    if (name == "get_weather") {
        CHECK((arguments == json{{"city", "Paris"}} || arguments == json{{"city", "Rome"}}));
    } else {
        CHECK(name == "get_time");
        CHECK((arguments == json{{"zone", "UTC"}} || arguments == json{{"zone", "CET"}}));
    }
    // The tools are in the prompt the child built: without them it is much shorter.
    json no_tools = body;
    no_tools.erase("tools");
    no_tools.erase("tool_choice");
    no_tools.erase("parallel_tool_calls");
    no_tools["max_tokens"] = 1;
    json plain = expect_same(real, "/v1/chat/completions", no_tools);
    CHECK(answer["usage"]["prompt_tokens"].get<int>() >
          plain["usage"]["prompt_tokens"].get<int>() + 50);

    // Streamed: the same deltas, event by event; together they make the same call.
    json streamed = body;
    streamed["stream"] = true;
    auto events = expect_same_stream(real, "/v1/chat/completions", streamed);
    std::string streamed_name, streamed_arguments, finish;
    for (const auto& event : events) {
        if (!event.is_object()) continue;
        const json& chunk = event["choices"][0];
        if (chunk["finish_reason"].is_string()) finish = chunk["finish_reason"];
        if (!chunk["delta"].contains("tool_calls")) continue;
        const json& function = chunk["delta"]["tool_calls"][0]["function"];
        if (function.contains("name")) streamed_name += function["name"].get<std::string>();
        if (function.contains("arguments")) {
            streamed_arguments += function["arguments"].get<std::string>();
        }
    }
    CHECK(finish == "tool_calls");
    CHECK(streamed_name == name);
    CHECK(streamed_arguments == call["function"]["arguments"].get<std::string>());
}

// ---- slot ids ------------------------------------------------------------------------------

namespace {

// The slot that ran the latest task, from a /slots answer (-1 if none has run one).
int latest_slot(const json& slots) {
    int slot = -1;
    long long latest = -1;
    for (const auto& entry : slots) {
        long long task = entry.value("id_task", -1LL);
        if (task > latest) {
            latest = task;
            slot = entry["id"];
        }
    }
    return slot;
}

}  // namespace

TEST_CASE("real promises: id_slot pins a request to that slot", "[real][slots]") {
    Promised real("models.tiny.llama_server.parallel = 4\n");
    auto slots_via_engine = [&] {
        auto answer = http(real.engine->port(), "GET", "/upstream/tiny/slots");
        REQUIRE(answer.status == 200);
        return json::parse(answer.body);
    };
    REQUIRE(slots_via_engine().size() == 4);
    for (int slot : {2, 0, 3, 2, 1}) {
        INFO("id_slot " << slot);
        // /completion tells which slot served it; /v1/chat/completions does not: /slots does.
        auto completion = real.via_engine(
            "/completion",
            greedy({{"prompt", "hello"}, {"n_predict", 2}, {"id_slot", slot}}).dump());
        REQUIRE(completion.status == 200);
        CHECK(json::parse(completion.body)["id_slot"] == slot);
        CHECK(latest_slot(slots_via_engine()) == slot);

        auto chat = real.via_engine(
            "/v1/chat/completions",
            greedy({{"max_tokens", 2},
                    {"id_slot", slot},
                    {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}})
                .dump());
        REQUIRE(chat.status == 200);
        CHECK(latest_slot(slots_via_engine()) == slot);
        // The child's own /slots says the same.
        Headers auth = real.auth;
        auto direct = http(real.child, "GET", "/slots", "", auth);
        REQUIRE(direct.status == 200);
        CHECK(latest_slot(json::parse(direct.body)) == slot);
    }
}

// ---- llama-server's sampling fields --------------------------------------------------------

namespace {

// One row per llama-server field: its JSON fragment, merged into a greedy /completion request.
// Adding a field is one line.
struct SamplingField {
    const char* name;
    const char* fragment;
};
const SamplingField kSamplingFields[] = {
    {"plain greedy", R"({})"},
    {"n_probs", R"({"n_probs": 3})"},
    {"logit_bias", R"({"logit_bias": {"931": 8.0, "1128": -4.5}})"},
    {"grammar", R"({"grammar": "root ::= [a-z]+ (\" \" [a-z]+)*"})"},
    {"json_schema",
     R"({"json_schema": {"type": "object", "properties": {"n": {"type": "integer"}},
                         "required": ["n"]}})"},
    {"cache_prompt", R"({"cache_prompt": true})"},
    {"samplers", R"({"samplers": ["top_k", "temperature"], "top_k": 5})"},
    {"seed", R"({"seed": 42, "temperature": 1.0})"},
    {"timings_per_token", R"({"timings_per_token": true})"},
};

json sampling_request(const SamplingField& field) {
    json body = greedy(
        {{"prompt", "Once upon a time, in a village"}, {"n_predict", 12}, {"return_tokens", true}});
    body.merge_patch(json::parse(field.fragment));
    return body;
}

}  // namespace

TEST_CASE(
    "real promises: llama-server's sampling fields give the same generation through the "
    "engine",
    "[real][sampling]") {
    Promised real;
    // One child for every row (a SECTION would start the engine again for each).
    for (const auto& field : kSamplingFields) {
        const json body = sampling_request(field);
        INFO(field.name << ": " << body.dump());
        json answer = expect_same(real, "/completion", body);
        CHECK(answer["tokens"].size() > 0);
        // The child took the field: its echo of the settings shows the row's values.
        const json& settings = answer["generation_settings"];
        CHECK(settings["seed"] == body["seed"]);
        const json fragment = json::parse(field.fragment);
        for (auto& [key, value] : fragment.items()) {
            if (settings.contains(key) && settings[key].type() == value.type()) {
                INFO("generation_settings." << key);
                CHECK(settings[key] == value);
            }
        }

        json streamed = body;
        streamed["stream"] = true;
        auto events = expect_same_stream(real, "/completion", streamed);
        // The streamed tokens are the non-streamed ones.
        json tokens = json::array();
        for (const auto& event : events) {
            for (const auto& token : event["tokens"]) tokens.push_back(token);
        }
        CHECK(tokens == answer["tokens"]);
    }
}
