// TLS on the engine's listeners: a throwaway CA and server certificate are made with openssl at
// test time (nothing secret is committed); curl and the OpenAI SDK are the clients.
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "harness.hpp"

using namespace ge_test;
using nlohmann::json;

namespace {

int run(const std::string& command, std::string* output = nullptr) {
    return run_shell(command, output);
}

std::string quote(const std::string& s) {
    return shell_quote(s);
}

// A CA and a server certificate for 127.0.0.1 signed by it, named `name`.pem / `name`.key.
struct Certificates {
    TempDir dir;
    std::string ca, cert, key;

    Certificates() {
        ca = dir.path() + "/ca.pem";
        REQUIRE(run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                    "-keyout " +
                    quote(dir.path() + "/ca.key") + " -out " + quote(ca) +
                    " -days 2 -subj /CN=gradatum-test-ca") == 0);
        issue("server", "first");
    }

    // A fresh key and certificate signed by the CA; `serial_name` goes into the subject.
    void issue(const std::string& name, const std::string& serial_name) {
        cert = dir.path() + "/" + name + ".pem";
        key = dir.path() + "/" + name + ".key";
        std::string csr = dir.path() + "/" + name + ".csr";
        std::string ext = dir.write(name + ".ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
        REQUIRE(run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
                    quote(key) + " -out " + quote(csr) + " -subj /CN=engine-" + serial_name) == 0);
        REQUIRE(run("openssl x509 -req -in " + quote(csr) + " -CA " + quote(ca) + " -CAkey " +
                    quote(dir.path() + "/ca.key") + " -CAcreateserial -out " + quote(cert) +
                    " -days 2 -extfile " + quote(ext)) == 0);
        chmod(key.c_str(), 0600);
    }
};

std::string tls_config(const Certificates& c, uint16_t port) {
    return "server.listen = https://127.0.0.1:" + std::to_string(port) +
           "\n"
           "server.tls.cert = " +
           c.cert + "\nserver.tls.key = " + c.key + "\n";
}

std::string curl(uint16_t port, const std::string& options, const std::string& path = "/health") {
    std::string output;
    run("curl -sS -m 10 " + options + " https://127.0.0.1:" + std::to_string(port) + path, &output);
    return output;
}

}  // namespace

TEST_CASE("https: curl with the CA gets a chat answer and a streamed chat", "[fake][tls]") {
    Certificates certs;
    uint16_t port = free_port();
    TempDir files;
    std::string model = files.write("model.gguf", "fake");
    Engine engine(tls_config(certs, port) +
                  fake_model_config("m", model, "--fake-load-ms 0 --fake-stream-events 5"));
    std::string cacert = "--cacert " + quote(certs.ca);
    REQUIRE(
        wait_until([&] { return curl(port, cacert).find("\"ok\"") != std::string::npos; }, 10s));
    std::string chat =
        curl(port, cacert + " -H 'Content-Type: application/json' -d '" + kChat + "'",
             "/v1/chat/completions");
    INFO(chat);
    CHECK(json::parse(chat, nullptr, false).contains("choices"));
    std::string streamed =
        curl(port, "-N " + cacert + " -H 'Content-Type: application/json' -d '" + kStreamChat + "'",
             "/v1/chat/completions");
    INFO(streamed);
    CHECK(streamed.find("data: [DONE]") != std::string::npos);
    size_t events = 0;
    for (size_t at = 0; (at = streamed.find("data: ", at)) != std::string::npos; ++at) ++events;
    CHECK(events >= 6);
}

TEST_CASE("https: a client that does not trust the CA fails the handshake, plain HTTP is closed",
          "[fake][tls]") {
    Certificates certs;
    uint16_t port = free_port();
    TempDir files;
    std::string model = files.write("model.gguf", "fake");
    Engine engine(tls_config(certs, port) + fake_model_config("m", model, "--fake-load-ms 0"));
    std::string cacert = "--cacert " + quote(certs.ca);
    REQUIRE(
        wait_until([&] { return curl(port, cacert).find("\"ok\"") != std::string::npos; }, 10s));
    std::string output;
    int code = run("curl -sS -m 10 https://127.0.0.1:" + std::to_string(port) + "/health", &output);
    INFO(output);
    CHECK(code == 60);  // curl: peer certificate cannot be authenticated with known CA certificates
    // Plain HTTP on the TLS port: no HTTP answer, the connection is closed.
    code = run("curl -sS -m 10 http://127.0.0.1:" + std::to_string(port) + "/health", &output);
    INFO(output);
    CHECK(code != 0);
    CHECK(output.find("\"ok\"") == std::string::npos);
    CHECK(curl(port, cacert).find("\"ok\"") != std::string::npos);  // still serving
}

TEST_CASE("https and plain listeners can be mixed", "[fake][tls]") {
    Certificates certs;
    uint16_t tls_port = free_port();
    uint16_t plain_port = free_port();
    TempDir files;
    std::string model = files.write("model.gguf", "fake");
    Engine engine("server.listen = 127.0.0.1:" + std::to_string(plain_port) +
                  ", https://127.0.0.1:" + std::to_string(tls_port) +
                  "\nserver.tls.cert = " + certs.cert + "\nserver.tls.key = " + certs.key + "\n" +
                  fake_model_config("m", model, "--fake-load-ms 0"));
    REQUIRE(wait_until(
        [&] {
            return curl(tls_port, "--cacert " + quote(certs.ca)).find("\"ok\"") !=
                   std::string::npos;
        },
        10s));
    CHECK(http(plain_port, "GET", "/health").status == 200);
}

TEST_CASE("https: bad certificate material exits 78 naming the key and the file", "[fake][tls]") {
    Certificates certs;
    TempDir files;
    std::string model = files.write("model.gguf", "fake");
    const std::string models = fake_model_config("m", model, "--fake-load-ms 0");
    auto start_with = [&](const std::string& cert, const std::string& key, std::string& output) {
        return run_engine_once("server.listen = https://127.0.0.1:0\nserver.tls.cert = " + cert +
                                   "\nserver.tls.key = " + key + "\n" + models,
                               "properties", output);
    };
    std::string output;
    SECTION("a key readable by others") {
        chmod(certs.key.c_str(), 0644);
        CHECK(start_with(certs.cert, certs.key, output) == 78);
        CHECK(output.find("server.tls.key") != std::string::npos);
        CHECK(output.find("readable or writable by other users") != std::string::npos);
    }
    SECTION("a missing certificate") {
        CHECK(start_with(files.path() + "/none.pem", certs.key, output) == 78);
        CHECK(output.find("server.tls.cert: file not found: " + files.path() + "/none.pem") !=
              std::string::npos);
    }
    SECTION("a certificate that is not PEM") {
        std::string bad = files.write("bad.pem", "not a certificate\n");
        CHECK(start_with(bad, certs.key, output) == 78);
        CHECK(output.find("server.tls.cert") != std::string::npos);
        CHECK(output.find(bad) != std::string::npos);
    }
    SECTION("a key that does not match the certificate") {
        std::string first_cert = certs.cert;
        certs.issue("other", "other");
        CHECK(start_with(first_cert, certs.key, output) == 78);
        CHECK(output.find("server.tls.key") != std::string::npos);
        CHECK(output.find("does not match the certificate " + first_cert) != std::string::npos);
    }
    SECTION("an https listener without a certificate") {
        CHECK(run_engine_once("server.listen = https://127.0.0.1:0\n" + models, "properties",
                              output) == 78);
        CHECK(output.find("server.tls.cert: missing") != std::string::npos);
    }
    INFO(output);
}

TEST_CASE("https: SIGHUP picks up a renewed certificate, a bad one keeps the old", "[fake][tls]") {
    Certificates certs;
    uint16_t port = free_port();
    TempDir files;
    std::string model = files.write("model.gguf", "fake");
    Engine engine(tls_config(certs, port) + fake_model_config("m", model, "--fake-load-ms 0"));
    std::string cacert = "--cacert " + quote(certs.ca);
    REQUIRE(
        wait_until([&] { return curl(port, cacert).find("\"ok\"") != std::string::npos; }, 10s));
    auto subject = [&] {
        std::string out;
        run("curl -sv -m 10 --cacert " + quote(certs.ca) +
                " https://127.0.0.1:" + std::to_string(port) + "/health",
            &out);
        auto at = out.find("subject: ");
        return at == std::string::npos ? std::string() : out.substr(at, out.find('\n', at) - at);
    };
    CHECK(subject().find("engine-first") != std::string::npos);
    // Renewed in place, as certbot does.
    std::string cert_path = certs.cert, key_path = certs.key;
    certs.issue("renewed", "renewed");
    REQUIRE(run("cp " + quote(certs.cert) + " " + quote(cert_path) + " && cp " + quote(certs.key) +
                " " + quote(key_path)) == 0);
    engine.signal(SIGHUP);
    REQUIRE(engine.wait_log("reload: TLS certificate", 5s));
    CHECK(subject().find("engine-renewed") != std::string::npos);
    // A broken pair (the key of another certificate): logged, the renewed one stays.
    certs.issue("stray", "stray");
    REQUIRE(run("cp " + quote(certs.key) + " " + quote(key_path)) == 0);
    engine.signal(SIGHUP);
    REQUIRE(engine.wait_log("keeping the current TLS certificate", 5s));
    CHECK(subject().find("engine-renewed") != std::string::npos);
}

TEST_CASE("https: the official OpenAI SDK streams a chat", "[fake][tls][sdk]") {
    std::string sdk = source_dir() + "/tests/sdk";
    struct stat st {};
    if (stat((sdk + "/node_modules/openai").c_str(), &st) != 0) {
        if (std::getenv("CI")) FAIL("tests/sdk/node_modules is missing: run npm ci in tests/sdk");
        WARN("the openai npm package is not installed (cd tests/sdk && npm ci); not checked");
        return;
    }
    Certificates certs;
    uint16_t port = free_port();
    TempDir files;
    std::string model = files.write("model.gguf", "fake");
    Engine engine(tls_config(certs, port) +
                  fake_model_config("m", model, "--fake-load-ms 0 --fake-stream-events 5"));
    REQUIRE(wait_until(
        [&] {
            return curl(port, "--cacert " + quote(certs.ca)).find("\"ok\"") != std::string::npos;
        },
        10s));
    std::string output;
    int code =
        run("NODE_EXTRA_CA_CERTS=" + quote(certs.ca) + " node " + quote(sdk + "/stream_chat.mjs") +
                " https://127.0.0.1:" + std::to_string(port) + "/v1",
            &output);
    INFO(output);
    CHECK(code == 0);
    CHECK(output.find("chunks: 5") != std::string::npos);
}

TEST_CASE("https: forwarded requests say X-Forwarded-Proto: https", "[fake][tls][headers]") {
    Certificates certs;
    uint16_t port = free_port();
    TempDir files;
    std::string model = files.write("model.gguf", "fake");
    Engine engine(tls_config(certs, port) + fake_model_config("m", model, "--fake-load-ms 0"));
    std::string cacert = "--cacert " + quote(certs.ca);
    REQUIRE(
        wait_until([&] { return curl(port, cacert).find("\"ok\"") != std::string::npos; }, 10s));
    std::string echo = curl(port, cacert + " -H 'X-Forwarded-Proto: http'", "/fake/echo");
    INFO(echo);
    auto headers = json::parse(echo, nullptr, false)["headers"];
    CHECK(headers["X-Forwarded-Proto"] == "https");
    CHECK(headers["Via"] == "1.1 gradatum-engine");
}
