// The server end to end: the real Server on a loopback ephemeral port, driven by a small
// blocking Beast client. Every response is checked against the server's own
// /openapi.json; happy paths, each bad-input case, limits, queue-full 429, batching,
// keep-alive, slow clients, graceful shutdown (also by SIGTERM). Settings precedence and
// the service's loading state are checked without a socket.
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "longqa/pipeline.h"
#include "longqa/reader.h"
#include "server/json_schema.h"
#include "server/server.h"
#include "server/service.h"
#include "server/settings.h"
#include "server_fixture.h"
#include "test_util.h"

using namespace longqa;
using namespace longqa::server;
using nlohmann::json;

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Reply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  bool keep_alive = false;
  json json_body() const { return json::parse(body); }
};

// One blocking HTTP/1.1 connection. Socket timeouts bound every read and write, so a
// misbehaving server fails the test instead of hanging it.
class Client {
 public:
  explicit Client(uint16_t port, double timeout_s = 60) : socket_(ioc_) {
    socket_.connect({net::ip::make_address("127.0.0.1"), port});
    timeval tv{static_cast<time_t>(timeout_s), static_cast<suseconds_t>((timeout_s - static_cast<time_t>(timeout_s)) * 1e6)};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  void send(http::verb method, const std::string& target, const std::string& body = "",
            const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (method == http::verb::post) req.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    http::write(socket_, req);
  }

  Reply receive() {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(socket_, buffer_, parser);
    const auto& res = parser.get();
    Reply r;
    r.status = static_cast<int>(res.result_int());
    r.body = res.body();
    for (const auto& field : res) r.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    r.keep_alive = res.keep_alive();
    return r;
  }

  Reply request(http::verb method, const std::string& target, const std::string& body = "",
                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    send(method, target, body, headers);
    return receive();
  }
  Reply get(const std::string& target) { return request(http::verb::get, target); }
  Reply post(const std::string& target, const std::string& body) { return request(http::verb::post, target, body); }

  void send_raw(const std::string& bytes) { net::write(socket_, net::buffer(bytes)); }

  // True when the server closes the connection (EOF or reset) before the socket timeout.
  bool closed_by_server() {
    char c;
    beast::error_code ec;
    for (;;) {
      socket_.read_some(net::buffer(&c, 1), ec);
      if (ec) return ec == net::error::eof || ec == net::error::connection_reset;
    }
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

bool can_connect(uint16_t port) {
  try {
    Client c(port, 2);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// One model directory for the whole run; the "slow" one reads long documents slowly.
const std::string& tiny_model_dir() {
  static test::TempDir dir("longqa-server-model");
  static bool written = (test::write_random_reader(dir.path().string(), 1, 32), true);
  (void)written;
  return dir.path().native();
}

const std::string& slow_model_dir() {
  static test::TempDir dir("longqa-server-slow-model");
  static bool written = (test::write_random_reader(dir.path().string(), 4, 256), true);
  (void)written;
  return dir.path().native();
}

ServerSettings test_settings(const std::string& model_dir = tiny_model_dir()) {
  ServerSettings s;
  s.host = "127.0.0.1";
  s.port = 0;
  s.reader_dir = model_dir;
  s.shutdown_timeout_s = 60;
  return s;
}

// A started server, ready (health 200) before the test goes on; shut down at the end.
class TestServer {
 public:
  explicit TestServer(const ServerSettings& settings) : server_(settings) {
    server_.start();
    const auto start = Clock::now();
    while (seconds_since(start) < 120) {
      if (Client(port()).get("/health").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL("server not ready within 120 s");
  }
  ~TestServer() {
    server_.shutdown();
    server_.wait();
  }
  uint16_t port() const { return server_.port(); }
  Server& server() { return server_; }

 private:
  Server server_;
};

// The reply must be one the OpenAPI document promises for this operation: its status
// listed, its body valid against the schema given for that status.
void check_documented(const json& api, const std::string& method, const std::string& pattern, const Reply& r) {
  INFO(method << " " << pattern << " -> " << r.status << " " << r.body.substr(0, 300));
  REQUIRE(api["paths"].contains(pattern));
  const json& op = api["paths"][pattern][lower(method)];
  REQUIRE(op["responses"].contains(std::to_string(r.status)));
  const json* response = &op["responses"][std::to_string(r.status)];
  if (response->contains("$ref")) response = &resolve_ref(api, (*response)["$ref"]);
  const std::string content_type = r.headers.at("content-type");
  const std::string media = content_type.substr(0, content_type.find(';'));
  REQUIRE((*response)["content"].contains(media));
  if (media == "application/json") {
    auto error = check_schema(api, (*response)["content"][media]["schema"], r.json_body());
    INFO((error ? error->message : ""));
    CHECK(!error);
  }
  if ((*response).contains("headers"))
    for (const auto& [name, spec] : (*response)["headers"].items()) CHECK(r.headers.count(lower(name)));
}

// An error reply: status, code, and the error shape of the document.
void check_error(const json& api, const Reply& r, int status, const std::string& code) {
  INFO(r.body);
  CHECK(r.status == status);
  auto error = check_schema(api, api["components"]["schemas"]["Error"], r.json_body());
  INFO((error ? error->message : ""));
  CHECK(!error);
  CHECK(r.json_body()["error"]["code"] == code);
  CHECK(r.headers.at("content-type") == "application/json");
}

std::string filler(int words, int seed) {
  std::string s;
  for (int i = 0; i < words; ++i) {
    s += "w" + std::to_string((i * 13 + seed) % 200) + " ";
    if (i % 40 == 0) s += "가나다 é alpha omega ";
  }
  return s;
}

double metric(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

// Polls /metrics until `series` reaches `value` (bounded).
void wait_for_metric(Client& client, const std::string& series, double value) {
  const auto start = Clock::now();
  while (seconds_since(start) < 60) {
    if (metric(client.get("/metrics").body, series) >= value) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  FAIL("metric " << series << " never reached " << value);
}

}  // namespace

TEST_CASE("settings: flags over environment over config file over defaults", "[server]") {
  test::TempDir dir("longqa-server-settings");
  const std::string config = dir / "serve.json";
  test::write_file(config, R"({"port": 9001, "max_batch_size": 4, "reader": "/from/file", "max_wait_ms": 2.5,
                               "allow_no_answer": true})");
  const auto env = settings_from_environment([](const char* name) -> const char* {
    if (std::string(name) == "LONGQA_PORT") return "9002";
    if (std::string(name) == "LONGQA_READER") return "/from/env";
    return nullptr;
  });
  ServerSettings s = resolve_settings({{"port", "9003"}}, env, config);
  CHECK(s.port == 9003);              // flag
  CHECK(s.reader_dir == "/from/env");  // environment over file
  CHECK(s.max_batch_size == 4);       // file
  CHECK(s.max_wait_ms == 2.5);
  CHECK(s.allow_no_answer);
  CHECK(s.queue_capacity == ServerSettings{}.queue_capacity);  // default

  CHECK_THROWS_WITH(resolve_settings({{"port", "80x"}}, {}, config), Catch::Contains("--port") && Catch::Contains("integer"));
  CHECK_THROWS_WITH(resolve_settings({}, {{"workers", "many"}}, config), Catch::Contains("LONGQA_WORKERS"));
  test::write_file(config, R"({"reader": "/m", "max_batch_sise": 4})");
  CHECK_THROWS_WITH(resolve_settings({}, {}, config), Catch::Contains("max_batch_sise"));
  CHECK_THROWS_WITH(resolve_settings({}, {}, ""), Catch::Contains("reader is required"));
  CHECK_THROWS_WITH(resolve_settings({{"reader", "/m"}, {"queue_capacity", "0"}}, {}, ""), Catch::Contains("queue_capacity"));

  std::set<std::string> names;
  for (const auto& spec : setting_specs()) {
    CHECK(!spec.help.empty());
    CHECK(names.insert(spec.name).second);
  }
  CHECK(setting_specs().front().env() == "LONGQA_HOST");
}

TEST_CASE("schema checker: types, required, unknown fields, limits, oneOf, $ref", "[server]") {
  const json root = json::parse(R"({"defs": {"n": {"type": "integer", "minimum": 1, "maximum": 3}}})");
  const json schema = json::parse(R"({"type": "object", "additionalProperties": false, "required": ["q"],
      "properties": {"q": {"type": "string", "maxLength": 3}, "k": {"$ref": "#/defs/n"},
                     "a": {"type": "array", "items": {"type": "string"}}, "b": {"type": "string"}},
      "oneOf": [{"required": ["a"]}, {"required": ["b"]}]})");
  auto error = [&](const char* text) {
    auto e = check_schema(root, schema, json::parse(text));
    return e ? e->keyword + " " + e->path : std::string("ok");
  };
  CHECK(error(R"({"q": "가나다", "b": ""})") == "ok");  // code points, not bytes
  CHECK(error(R"({"q": "abcd", "b": ""})") == "maxLength q");
  CHECK(error(R"({"b": ""})") == "required q");
  CHECK(error(R"({"q": "a", "b": "", "x": 1})") == "additionalProperties x");
  CHECK(error(R"({"q": 1, "b": ""})") == "type q");
  CHECK(error(R"({"q": "a", "b": "", "k": 4})") == "maximum k");
  CHECK(error(R"({"q": "a", "b": "", "k": 2.0})") == "ok");
  CHECK(error(R"({"q": "a", "b": "", "k": 2.5})") == "type k");
  CHECK(error(R"({"q": "a", "a": ["x", 2]})") == "type a[1]");
  CHECK(error(R"({"q": "a"})") == "oneOf ");
  CHECK(error(R"({"q": "a", "a": [], "b": ""})") == "oneOf ");
  CHECK(error("[]") == "type ");
}

TEST_CASE("service: 503 while loading, /metrics and /openapi.json meanwhile", "[server]") {
  Service service(test_settings());
  std::vector<Response> got;
  auto call = [&](const std::string& method, const std::string& target, const std::string& body = "") {
    service.handle({method, target, body}, [&](Response r) { got.push_back(std::move(r)); });
    REQUIRE(!got.empty());
    Response r = got.back();
    got.clear();
    return r;
  };
  CHECK(call("GET", "/health").status == 503);
  CHECK(json::parse(call("GET", "/health").body)["status"] == "loading");
  const Response read = call("POST", "/v1/read", R"({"question": "q", "context": "c"})");
  CHECK(read.status == 503);
  CHECK(json::parse(read.body)["error"]["code"] == "loading");
  CHECK(read.headers.at(0).first == "Retry-After");
  CHECK(call("GET", "/metrics").status == 200);
  CHECK(json::parse(call("GET", "/v1/info").body)["model"].is_null());
  service.load();
  CHECK(call("GET", "/health").status == 200);
  service.begin_shutdown();
  CHECK(json::parse(call("GET", "/health").body)["status"] == "shutting_down");
}

TEST_CASE("server: API v1 over HTTP, every response as documented", "[server]") {
  ServerSettings settings = test_settings();
  settings.max_question_chars = 50;
  settings.max_contexts = 3;
  settings.max_body_bytes = 256 << 10;
  settings.max_header_bytes = 4096;
  TestServer server(settings);
  Client client(server.port());
  const json api = client.get("/openapi.json").json_body();

  SECTION("the document lists exactly the routes served, with the limits filled in") {
    std::set<std::pair<std::string, std::string>> documented, served;
    for (const auto& [path, item] : api["paths"].items())
      for (const auto& [method, op] : item.items())
        if (method != "parameters") documented.insert({lower(method), path});
    for (const auto& route : Service::routes()) served.insert({lower(route.method), route.pattern});
    CHECK(documented == served);
    const json& question = api["components"]["schemas"]["ReadRequest"]["properties"]["question"];
    CHECK(question["maxLength"] == 50);
    CHECK(!question.contains("x-longqa-limit"));
    CHECK(api["components"]["schemas"]["ReadRequest"]["properties"]["contexts"]["maxItems"] == 3);
  }

  SECTION("health, info, metrics, openapi") {
    Reply health = client.get("/health");
    CHECK(health.status == 200);
    CHECK(health.json_body() == json{{"status", "ok"}});
    check_documented(api, "GET", "/health", health);
    check_documented(api, "GET", "/health", client.get("/health?probe=1"));
    Reply info = client.get("/v1/info");
    check_documented(api, "GET", "/v1/info", info);
    CHECK(info.json_body()["model"]["hidden_size"] == 32);
    CHECK(info.json_body()["build"]["device"] == "cpu");
    CHECK(info.json_body()["limits"]["max_question_chars"] == 50);
    CHECK(info.json_body()["index"].is_null());
    check_documented(api, "GET", "/openapi.json", client.get("/openapi.json"));
    Reply metrics = client.get("/metrics");
    check_documented(api, "GET", "/metrics", metrics);
    CHECK(metrics.headers.at("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
    CHECK(metrics.body.find("# TYPE longqa_requests_total counter") != std::string::npos);
    CHECK(metrics.body.find("longqa_requests_total{endpoint=\"/health\",status=\"200\"}") != std::string::npos);
  }

  SECTION("/v1/read answers as the Reader does, with offsets into the context") {
    const std::string context = filler(300, 1);
    Reply r = client.post("/v1/read", json{{"question", "where is alpha ?"}, {"context", context}}.dump());
    check_documented(api, "POST", "/v1/read", r);
    REQUIRE(r.status == 200);
    const json body = r.json_body();
    ReaderOptions options;
    options.n_best = settings.max_top_k_answers;
    const auto expected = Reader(tiny_model_dir(), options).read("where is alpha ?", context);
    REQUIRE(body["answers"].size() == 5);  // the default top_k_answers
    for (size_t i = 0; i < body["answers"].size(); ++i) {
      const json& a = body["answers"][i];
      CHECK(a["text"] == expected[i].text);
      CHECK(a["score"].get<double>() == Approx(expected[i].score).margin(1e-4));
      CHECK(a["text"] == context.substr(a["begin_byte"], a["end_byte"].get<int64_t>() - a["begin_byte"].get<int64_t>()));
      CHECK(a["begin_char"] == expected[i].begin_char);
      CHECK(a["context_index"] == 0);
    }
    CHECK(body["tokens"].get<int64_t>() > 300);
    CHECK(body["timings_ms"]["total"].get<double>() >= body["timings_ms"]["read"].get<double>());

    Reply several = client.post("/v1/read", json{{"question", "alpha"}, {"contexts", {"w1 w2 alpha w3", context}}, {"top_k_answers", 2}}.dump());
    check_documented(api, "POST", "/v1/read", several);
    REQUIRE(several.status == 200);
    CHECK(several.json_body()["answers"].size() == 2);
    for (const auto& a : several.json_body()["answers"]) CHECK((a["context_index"] == 0 || a["context_index"] == 1));

    const std::string metrics = client.get("/metrics").body;
    CHECK(metrics.find("longqa_requests_total{endpoint=\"/v1/read\",status=\"200\"} 2") != std::string::npos);
    for (const char* stage : {"queue_wait", "tokenize", "read"})
      CHECK(metrics.find("longqa_stage_duration_seconds_count{stage=\"" + std::string(stage) + "\"} 2") != std::string::npos);
    CHECK(metric(metrics, "longqa_batch_size_count") == 2);
    CHECK(metric(metrics, "longqa_tokens_read_total") ==
          body["tokens"].get<double>() + several.json_body()["tokens"].get<double>());
    CHECK(metric(metrics, "longqa_queue_depth") == 0);
  }

  SECTION("bad input: 400 with a clear error, never 5xx") {
    struct Case {
      std::string body, code;
      int status;
    };
    const std::vector<Case> cases = {
        {"", "bad_json", 400},
        {"{\"question\": \"q\", \"context\": ", "bad_json", 400},
        {"[1, 2", "bad_json", 400},
        {"{\"question\": \"q\", \"context\": \"\xC3\x28\"}", "invalid_utf8", 400},
        {"{\"question\": \"q\", \"context\": \"\\ud800\"}", "bad_json", 400},  // a lone surrogate escape
        {std::string(100, '[') + std::string(100, ']'), "bad_json", 400},
        {"[]", "wrong_type", 400},
        {R"({"context": "c"})", "missing_field", 400},
        {R"({"question": "q", "context": "c", "colour": "red"})", "unknown_field", 400},
        {R"({"question": 7, "context": "c"})", "wrong_type", 400},
        {R"({"question": "q", "contexts": "c"})", "wrong_type", 400},
        {R"({"question": "q", "contexts": ["c", 3]})", "wrong_type", 400},
        {R"({"question": "q", "context": "c", "top_k_answers": "3"})", "wrong_type", 400},
        {R"({"question": "q", "context": "c", "top_k_answers": 0})", "invalid_value", 400},
        {R"({"question": "q", "context": "c", "top_k_answers": 21})", "invalid_value", 400},
        {R"({"question": "q", "context": "c", "top_k_answers": 1.5})", "wrong_type", 400},
        {R"({"question": "q"})", "invalid_value", 400},
        {R"({"question": "q", "context": "c", "contexts": ["c"]})", "invalid_value", 400},
        {R"({"question": "", "context": "c"})", "invalid_value", 400},
        {R"({"question": "q", "contexts": []})", "invalid_value", 400},
        {json{{"question", std::string(51, 'q')}, {"context", "c"}}.dump(), "too_long", 400},
        {R"({"question": "q", "contexts": ["a", "b", "c", "d"]})", "too_long", 400},
    };
    for (const auto& c : cases) {
      INFO("body: " << c.body.substr(0, 80));
      Reply r = client.post("/v1/read", c.body);
      check_error(api, r, c.status, c.code);
      check_documented(api, "POST", "/v1/read", r);
      CHECK(r.keep_alive);
    }
    // Messages say what and where.
    CHECK(client.post("/v1/read", R"({"question": "q", "context": "c", "colour": 1})").body.find("colour") != std::string::npos);
    CHECK(client.post("/v1/read", "{\"question\": \"q\", \"context\": \"ab\xFF\"}").body.find("byte offset 32") != std::string::npos);
    CHECK(client.get("/health").status == 200);
  }

  SECTION("404, 405, no index") {
    Reply unknown = client.get("/v2/read");
    check_error(api, unknown, 404, "not_found");
    Reply method = client.get("/v1/read");
    check_error(api, method, 405, "method_not_allowed");
    CHECK(method.headers.at("allow") == "POST");
    check_error(api, client.request(http::verb::put, "/v1/documents/a"), 405, "method_not_allowed");
    Reply head = client.request(http::verb::head, "/health");
    CHECK(head.status == 405);
    CHECK(head.body.empty());
    CHECK(client.get("/health").status == 200);  // the HEAD answer had no body: the connection is in step
    for (const auto& [method_name, target, pattern] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"POST", "/v1/ask", "/v1/ask"},
             {"POST", "/v1/retrieve", "/v1/retrieve"},
             {"POST", "/v1/documents", "/v1/documents"},
             {"GET", "/v1/documents/doc%201", "/v1/documents/{id}"},
             {"DELETE", "/v1/documents/doc-1", "/v1/documents/{id}"}}) {
      Reply r = client.request(http::string_to_verb(method_name), target, method_name == "POST" ? R"({"question": "q"})" : "");
      check_error(api, r, 404, "no_index");
      check_documented(api, method_name, pattern, r);
      CHECK(r.json_body()["error"]["message"].get<std::string>().find("--index") != std::string::npos);
    }
    check_error(api, client.get("/v1/documents/%ZZ"), 400, "invalid_value");
    check_error(api, client.get("/v1/documents/%C3%28"), 400, "invalid_utf8");
  }

  SECTION("size limits: 413 body, 431 header, 400 malformed HTTP") {
    Reply big = client.post("/v1/read", json{{"question", "q"}, {"context", std::string(300 << 10, 'a')}}.dump());
    check_error(api, big, 413, "body_too_large");
    CHECK(!big.keep_alive);
    CHECK(client.closed_by_server());

    Client header(server.port());
    Reply r = header.request(http::verb::get, "/health", "", {{"X-Padding", std::string(5000, 'x')}});
    check_error(api, r, 431, "headers_too_large");

    // A declared body over the limit is refused before it is sent.
    Client declared(server.port());
    declared.send_raw("POST /v1/read HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
    check_error(api, declared.receive(), 413, "body_too_large");

    for (const std::string raw : {"NOT HTTP AT ALL\r\n\r\n", "GET /health HTTP/1.1\r\nBad Header Line\r\n\r\n",
                                  "POST /v1/read HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                                  "POST /v1/read HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"}) {
      INFO(raw);
      Client malformed(server.port());
      malformed.send_raw(raw);
      check_error(api, malformed.receive(), 400, "malformed_http");
      CHECK(malformed.closed_by_server());
    }
    CHECK(Client(server.port()).get("/health").status == 200);
  }

  SECTION("keep-alive, Connection: close, Expect: 100-continue, chunked bodies") {
    for (int i = 0; i < 5; ++i) {
      Reply r = client.get("/health");
      CHECK(r.status == 200);
      CHECK(r.keep_alive);
    }
    CHECK(metric(client.get("/metrics").body, "longqa_connections_open") == 1);
    Reply closing = client.request(http::verb::get, "/health", "", {{"Connection", "close"}});
    CHECK(!closing.keep_alive);
    CHECK(client.closed_by_server());

    Client expect(server.port());
    const std::string body = R"({"question": "alpha", "context": "w1 alpha w2"})";
    expect.send_raw("POST /v1/read HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n");
    CHECK(expect.receive().status == 100);
    expect.send_raw(body);
    CHECK(expect.receive().status == 200);
    expect.send_raw("POST /v1/nothing HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n");
    check_error(api, expect.receive(), 404, "not_found");

    Client chunked(server.port());
    chunked.send_raw("POST /v1/read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"question\": \"a\"\r\n" +
                     std::string("12\r\n, \"context\": \"w1\"}\r\n0\r\n\r\n"));
    CHECK(chunked.receive().status == 200);
  }
}

TEST_CASE("server: slow clients and idle connections are cut off", "[server]") {
  ServerSettings settings = test_settings();
  settings.read_timeout_s = 0.5;
  settings.idle_timeout_s = 0.5;
  TestServer server(settings);

  Client idle(server.port(), 10);
  auto start = Clock::now();
  CHECK(idle.closed_by_server());
  CHECK(seconds_since(start) < 5);

  // Half a body, then nothing.
  Client stalled(server.port(), 10);
  stalled.send_raw("POST /v1/read HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"quest");
  start = Clock::now();
  CHECK(stalled.closed_by_server());
  CHECK(seconds_since(start) < 5);

  // A header trickling in a byte at a time is cut off at read_timeout_s, however steady.
  Client trickle(server.port(), 10);
  const std::string header = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'a');
  start = Clock::now();
  bool cut = false;
  for (char c : header) {
    try {
      trickle.send_raw(std::string(1, c));
    } catch (const std::exception&) {
      cut = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK((cut || trickle.closed_by_server()));
  CHECK(seconds_since(start) < 5);

  // Within the idle timeout a connection stays usable.
  Client alive(server.port(), 10);
  CHECK(alive.get("/health").status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(alive.get("/health").status == 200);
}

TEST_CASE("server: a full queue answers 429 at once; shutdown lets in-flight requests finish", "[server]") {
  ServerSettings settings = test_settings(slow_model_dir());
  settings.workers = 1;
  settings.queue_capacity = 1;
  settings.max_batch_size = 1;
  settings.retry_after_s = 2;
  TestServer server(settings);
  Client monitor(server.port());
  const json api = monitor.get("/openapi.json").json_body();
  const std::string slow = json{{"question", "alpha"}, {"context", filler(6000, 3)}}.dump();

  Client first(server.port()), second(server.port()), third(server.port());
  first.send(http::verb::post, "/v1/read", slow);
  wait_for_metric(monitor, "longqa_workers_busy", 1);
  second.send(http::verb::post, "/v1/read", slow);
  wait_for_metric(monitor, "longqa_queue_depth", 1);
  const auto start = Clock::now();
  Reply refused = third.post("/v1/read", slow);
  CHECK(seconds_since(start) < 1);
  check_error(api, refused, 429, "queue_full");
  check_documented(api, "POST", "/v1/read", refused);
  CHECK(refused.headers.at("retry-after") == "2");
  CHECK(refused.keep_alive);

  SECTION("both queued requests are answered") {
    CHECK(first.receive().status == 200);
    CHECK(second.receive().status == 200);
    CHECK(monitor.get("/metrics").body.find("longqa_requests_total{endpoint=\"/v1/read\",status=\"429\"} 1") !=
          std::string::npos);
  }

  SECTION("graceful shutdown: stop accepting, health 503, in-flight requests finish") {
    server.server().shutdown();
    Reply health = monitor.get("/health");
    CHECK(health.status == 503);
    CHECK(health.json_body()["status"] == "shutting_down");
    check_documented(api, "GET", "/health", health);
    CHECK(!health.keep_alive);
    CHECK(!can_connect(server.port()));
    Reply a = first.receive(), b = second.receive();
    CHECK(a.status == 200);
    CHECK(b.status == 200);
    CHECK(!a.keep_alive);
    server.server().wait();
  }
}

TEST_CASE("server: concurrent requests are read in one batch, answers unchanged", "[server]") {
  ServerSettings settings = test_settings();
  settings.max_batch_size = 8;
  settings.max_wait_ms = 500;
  TestServer server(settings);
  ReaderOptions options;
  options.n_best = settings.max_top_k_answers;
  const Reader reader(tiny_model_dir(), options);

  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::string> contexts;
  for (int i = 0; i < 6; ++i) {
    contexts.push_back(filler(100 + 50 * i, i));
    clients.push_back(std::make_unique<Client>(server.port()));
    clients.back()->send(http::verb::post, "/v1/read", json{{"question", "alpha w3"}, {"context", contexts.back()}}.dump());
  }
  for (int i = 0; i < 6; ++i) {
    Reply r = clients[i]->receive();
    REQUIRE(r.status == 200);
    const auto expected = reader.read("alpha w3", contexts[i]);
    const json answers = r.json_body()["answers"];
    REQUIRE(answers.size() == 5);
    for (size_t k = 0; k < answers.size(); ++k) {
      CHECK(answers[k]["begin_byte"] == expected[k].begin_byte);
      CHECK(answers[k]["score"].get<double>() == Approx(expected[k].score).margin(1e-3));
    }
  }
  const std::string metrics = Client(server.port()).get("/metrics").body;
  CHECK(metric(metrics, "longqa_batch_size_count") < 6);  // some requests shared a batch
  CHECK(metric(metrics, "longqa_batch_size_sum") == 6);
}

TEST_CASE("server: SIGTERM shuts down gracefully and run() returns 0", "[server]") {
  Server server(test_settings());
  int code = -1;
  std::thread runner([&] { code = server.run(); });
  const auto start = Clock::now();
  bool ready = false;
  while (!ready && seconds_since(start) < 120) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (server.port() != 0 && can_connect(server.port())) ready = Client(server.port()).get("/health").status == 200;
  }
  if (!ready) {
    server.shutdown();
    runner.join();
    FAIL("server not ready within 120 s");
  }
  const uint16_t port = server.port();
  ::kill(::getpid(), SIGTERM);
  runner.join();
  CHECK(code == 0);
  CHECK(!can_connect(port));
}

TEST_CASE("server: documents, retrieve and ask over an index that survives a restart", "[server]") {
  test::TempDir root("longqa-server-index");
  test::write_random_encoder(root / "encoder");
  ServerSettings settings = test_settings();
  settings.index_dir = root / "index";  // no index yet: the server makes one with the encoder
  settings.encoder = root / "encoder";
  settings.commit_interval_s = 3600;  // the checkpoint happens at shutdown
  settings.max_context_chars = 5000;
  std::mt19937 rng(5);
  auto words = [&](int n) {
    std::string text;
    for (int i = 0; i < n; ++i) text += "w" + std::to_string(rng() % 200) + (i % 30 == 29 ? " . " : " ");
    return text;
  };
  const std::string text_a = words(100) + "alpha omega " + words(300);
  const std::string text_b = words(200);
  {
    TestServer server(settings);
    Client client(server.port());
    const json api = client.get("/openapi.json").json_body();
    Reply info = client.get("/v1/info");
    check_documented(api, "GET", "/v1/info", info);
    CHECK(info.json_body()["index"]["documents"] == 0);

    Reply empty = client.post("/v1/ask", R"({"question": "alpha"})");
    check_documented(api, "POST", "/v1/ask", empty);
    CHECK(empty.json_body()["answers"].empty());

    const json documents = {{"documents",
                             {{{"id", "a"}, {"title", "Alpha"}, {"text", text_a}, {"metadata", {{"source", "test"}, {"n", 1}}}},
                              {{"id", "b/2 é"}, {"text", text_b}},
                              {{"id", "c"}, {"title", "Gamma"}, {"text", words(50)}}}}};
    Reply added = client.post("/v1/documents", documents.dump());
    check_documented(api, "POST", "/v1/documents", added);
    REQUIRE(added.status == 200);
    CHECK(added.json_body()["count"] == 3);
    CHECK(added.json_body()["ids"] == json({"a", "b/2 é", "c"}));

    Reply a = client.get("/v1/documents/a");
    check_documented(api, "GET", "/v1/documents/{id}", a);
    CHECK(a.json_body() == json{{"id", "a"}, {"title", "Alpha"}, {"text", text_a}, {"metadata", {{"source", "test"}, {"n", 1}}}});
    CHECK(client.get("/v1/documents/b%2F2%20%C3%A9").json_body()["text"] == text_b);
    Reply missing = client.get("/v1/documents/nope");
    check_error(api, missing, 404, "document_not_found");
    check_documented(api, "GET", "/v1/documents/{id}", missing);

    Reply retrieved = client.post("/v1/retrieve", R"({"question": "alpha omega", "top_k": 2})");
    check_documented(api, "POST", "/v1/retrieve", retrieved);
    REQUIRE(retrieved.status == 200);
    const json hits = retrieved.json_body()["documents"];
    REQUIRE(!hits.empty());
    CHECK(hits.size() <= 2);
    CHECK(hits[0]["id"] == "a");  // BM25 finds the only document with both words
    for (const auto& p : hits[0]["passages"])
      CHECK(p["text"] == text_a.substr(p["begin_byte"], p["end_byte"].get<size_t>() - p["begin_byte"].get<size_t>()));

    Reply asked = client.post("/v1/ask", R"({"question": "alpha omega", "top_k_documents": 2, "top_k_answers": 3})");
    check_documented(api, "POST", "/v1/ask", asked);
    REQUIRE(asked.status == 200);
    const json body = asked.json_body();
    CHECK(body["answers"].size() == 3);
    CHECK(body["documents"].size() <= 2);
    for (const auto& answer : body["answers"]) {
      const std::string id = answer["document_id"];
      const std::string& text = id == "a" ? text_a : text_b;
      REQUIRE((id == "a" || id == "b/2 é"));
      CHECK(answer["text"] == text.substr(answer["begin_byte"], answer["end_byte"].get<size_t>() - answer["begin_byte"].get<size_t>()));
      CHECK(answer["snippet"].get<std::string>().find(answer["text"].get<std::string>()) != std::string::npos);
    }
    for (const char* stage : {"retrieve", "read", "queue"}) CHECK(body["timings_ms"].contains(stage));

    Reply replaced = client.post("/v1/documents", json{{"documents", {{{"id", "b/2 é"}, {"text", "w1 w2 w3"}}}}}.dump());
    CHECK(replaced.json_body()["replaced"] == 1);
    Reply deleted = client.request(http::verb::delete_, "/v1/documents/c");
    check_documented(api, "DELETE", "/v1/documents/{id}", deleted);
    CHECK(deleted.json_body() == json{{"id", "c"}, {"deleted", true}});
    check_error(api, client.request(http::verb::delete_, "/v1/documents/c"), 404, "document_not_found");

    Reply twice = client.post("/v1/documents", R"({"documents": [{"id": "x", "text": "w1"}, {"id": "x", "text": "w2"}]})");
    CHECK(twice.json_body()["ids"] == json({"x"}));
    CHECK(client.get("/v1/documents/x").json_body()["text"] == "w2");  // the later one
    CHECK(client.request(http::verb::delete_, "/v1/documents/x").status == 200);
    check_error(api, client.post("/v1/documents", R"({"documents": [{"id": "x"}]})"), 400, "missing_field");
    check_error(api, client.post("/v1/documents", R"({"documents": [{"id": "x", "text": "a", "url": "u"}]})"), 400, "unknown_field");
    check_error(api, client.post("/v1/documents", R"({"documents": []})"), 400, "invalid_value");
    check_error(api, client.post("/v1/documents", json{{"documents", {{{"id", "x"}, {"text", std::string(5001, 'a')}}}}}.dump()), 400, "too_long");
    check_error(api, client.post("/v1/ask", R"({"question": "q", "top_k_documents": 0})"), 400, "invalid_value");
    check_error(api, client.post("/v1/retrieve", R"({"question": "q", "top_k": 101})"), 400, "invalid_value");
    CHECK(client.get("/v1/info").json_body()["index"]["documents"] == 2);
  }
  // A new server on the same folder: what the API said was stored is there.
  settings.encoder.clear();  // the manifest names it
  TestServer server(settings);
  Client client(server.port());
  const json index = client.get("/v1/info").json_body()["index"];
  CHECK(index["documents"] == 2);
  CHECK(index["generation"].get<int64_t>() >= 2);  // checkpointed at shutdown
  CHECK(index["dense_vectors"] == index["passages"]);
  CHECK(client.get("/v1/documents/a").json_body()["text"] == text_a);
  CHECK(client.get("/v1/documents/b%2F2%20%C3%A9").json_body()["text"] == "w1 w2 w3");
  CHECK(client.get("/v1/documents/c").status == 404);
  CHECK(client.post("/v1/retrieve", R"({"question": "alpha omega"})").json_body()["documents"][0]["id"] == "a");
}

// The one ask flow: the library's Pipeline, `longqa ask --json` and POST /v1/ask give the
// same answers for the same index and question.
TEST_CASE("pipeline: the same answers through the library, the CLI and HTTP", "[server][pipeline]") {
  test::TempDir root("longqa-pipeline");
  test::write_random_encoder(root / "encoder");
  ServerSettings settings = test_settings();
  settings.index_dir = root / "index";
  settings.encoder = root / "encoder";
  std::mt19937 rng(9);
  json documents = json::array();
  for (int d = 0; d < 4; ++d) {
    std::string text;
    for (int i = 0; i < 150; ++i) text += "w" + std::to_string(rng() % 200) + (i == 70 && d == 1 ? " alpha omega " : " ");
    documents.push_back({{"id", "doc-" + std::to_string(d)}, {"title", "Title " + std::to_string(d)}, {"text", text}});
  }
  const std::string question = "alpha omega w7";
  const json ask_body = {{"question", question}, {"top_k_documents", 2}, {"top_k_answers", 3}};
  json over_http;
  {
    TestServer server(settings);
    Client client(server.port());
    REQUIRE(client.post("/v1/documents", json{{"documents", documents}}.dump()).status == 200);
    Reply asked = client.post("/v1/ask", ask_body.dump());
    REQUIRE(asked.status == 200);
    over_http = asked.json_body();
  }  // shutdown checkpoints the index

  AskOptions options;
  options.top_k_documents = 2;
  options.top_k_answers = 3;
  const Pipeline pipeline = Pipeline::open(tiny_model_dir(), settings.index_dir);
  const PipelineResult in_library = pipeline.ask(question, options);

  const std::string command = std::string(LONGQA_CLI) + " ask --model '" + tiny_model_dir() + "' --index '" +
                              settings.index_dir + "' --top-k-documents 2 --top-k-answers 3 --json '" + question + "'";
  int status = 0;
  const std::string printed = longqa::test::command_output(command, status);
  REQUIRE(status == 0);
  const json from_cli = json::parse(printed);

  REQUIRE(!in_library.answers.empty());
  REQUIRE(in_library.answers.size() == 3);
  for (const json* other : std::initializer_list<const json*>{&over_http, &from_cli}) {
    INFO(other->dump());
    REQUIRE((*other)["answers"].size() == in_library.answers.size());
    for (size_t i = 0; i < in_library.answers.size(); ++i) {
      const auto& a = in_library.answers[i];
      const json& b = (*other)["answers"][i];
      CHECK(b["text"] == a.text);
      CHECK(b["document_id"] == a.document_id);
      CHECK(b["title"] == a.title);
      CHECK(b["begin_char"] == a.begin_char);
      CHECK(b["end_char"] == a.end_char);
      CHECK(b["snippet"] == a.snippet);
      CHECK(b["score"].get<double>() == Approx(a.score).epsilon(1e-4));
    }
    REQUIRE((*other)["documents"].size() == in_library.documents.size());
    for (size_t i = 0; i < in_library.documents.size(); ++i)
      CHECK((*other)["documents"][i]["id"] == in_library.documents[i].id);
  }
  // The answers are spans of the documents they name.
  for (const auto& a : in_library.answers) {
    const auto doc = pipeline.index().document(a.document_id);
    REQUIRE(doc);
    CHECK(doc->text.substr(static_cast<size_t>(a.begin_byte), static_cast<size_t>(a.end_byte - a.begin_byte)) == a.text);
  }
}
