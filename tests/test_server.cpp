// The server end to end: the real Server on a loopback ephemeral port, driven by a small
// blocking Beast client. Every response is checked against the server's own
// /openapi.json; happy paths, each bad-input case, limits, queue-full 429, batching,
// keep-alive, slow clients, graceful shutdown (also by SIGTERM), API keys and scopes, CORS,
// request ids, the connection limit under 10,000 slow clients, HTTPS. Settings precedence and
// the service's loading state are checked without a socket.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "longqa/pipeline.h"
#include "longqa/reader.h"
#include "longqa/text_encoder.h"
#include "longqa/common/errors.h"
#include "server/access.h"
#include "server/responses.h"
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
    return method == http::verb::head ? receive_head() : receive();  // a HEAD answer has no body
  }
  Reply get(const std::string& target) { return request(http::verb::get, target); }
  Reply post(const std::string& target, const std::string& body) { return request(http::verb::post, target, body); }

  void send_raw(const std::string& bytes) { net::write(socket_, net::buffer(bytes)); }

  // The answer to a HEAD request: its header; no body follows.
  Reply receive_head() {
    http::response_parser<http::empty_body> parser;
    parser.skip(true);
    http::read(socket_, buffer_, parser);
    Reply r;
    r.status = static_cast<int>(parser.get().result_int());
    for (const auto& field : parser.get()) r.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    return r;
  }

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

TEST_CASE("responses: errors map to statuses; a store that cannot be reached is 503", "[server]") {
  using longqa::server::exception_response;
  const auto unavailable =
      exception_response(std::make_exception_ptr(longqa::StoreUnavailableError("postgresql://db: cannot connect")));
  CHECK(unavailable.status == 503);
  CHECK(nlohmann::json::parse(unavailable.body)["error"]["code"] == "store_unavailable");
  CHECK(std::count(unavailable.headers.begin(), unavailable.headers.end(), std::make_pair(std::string("Retry-After"), std::string("1"))) == 1);
  CHECK(exception_response(std::make_exception_ptr(std::invalid_argument("bad"))).status == 400);
  CHECK(exception_response(std::make_exception_ptr(std::runtime_error("boom"))).status == 500);
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
    const json several_body = several.json_body();  // iterated below: it must outlive the loop
    CHECK(several_body["answers"].size() == 2);
    for (const auto& a : several_body["answers"]) CHECK((a["context_index"] == 0 || a["context_index"] == 1));

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
        {"{\"question\": \"q\", \"context\": \"c\", \"top_k_answers\": 1e400}", "bad_json", 400},  // was a 500
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
    CHECK(head.headers.count("content-length"));  // the length of the error a GET-like answer would carry
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

  SECTION("HEAD of the web page: the GET's header and Content-Length, and no body") {
    for (const std::string target : {"/", "/web/app.js", "/web/app.css"}) {
      INFO(target);
      const Reply got = client.get(target);
      REQUIRE(got.status == 200);
      Client head(server.port());
      head.send_raw("HEAD " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
      const Reply r = head.receive_head();
      CHECK(r.status == 200);
      CHECK(r.headers.at("content-length") == std::to_string(got.body.size()));
      CHECK(r.headers.at("content-type") == got.headers.at("content-type"));
      CHECK(head.get("/health").status == 200);  // the same connection: no body bytes were left
    }
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
  settings.header_timeout_s = 0.5;  // a new connection that sends nothing
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

  // A new connection's first header is due header_timeout_s after the connection, not after
  // its first byte: a client that waits, then starts a header it never ends, is cut off once.
  ServerSettings patient = test_settings();
  patient.header_timeout_s = 1.0;
  patient.read_timeout_s = 10;
  TestServer second(patient);
  Client late(second.port(), 10);
  const auto connected = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  late.send_raw("GET /health HTTP/1.1\r\nHost: x\r\n");
  CHECK(late.closed_by_server());
  CHECK(seconds_since(connected) < 1.6);  // twice the deadline would be 1.9 s
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
      CHECK(b["passage_prior"].get<double>() == Approx(a.passage_prior).epsilon(1e-4));
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
  // The passage prior: retrieve() scores every passage of each document it fetched, and an
  // answer's share of its score is the weight times the best relevance where it starts.
  const Retrieval retrieval = pipeline.retrieve(question, options);
  REQUIRE(retrieval.relevance.size() == retrieval.documents.size());
  CHECK(Pipeline::read_request(retrieval).relevance.size() == retrieval.documents.size());
  const double weight = pipeline.reader().options().passage_weight;
  REQUIRE(weight > 0);
  for (const auto& a : in_library.answers) {
    const auto d = static_cast<size_t>(std::find_if(retrieval.documents.begin(), retrieval.documents.end(),
                                                    [&](const auto& doc) { return doc.id == a.document_id; }) -
                                       retrieval.documents.begin());
    REQUIRE(d < retrieval.documents.size());
    REQUIRE(retrieval.relevance[d].size() == pipeline.index().document_passages(a.document_id, false).size());
    double best = -1e300;
    for (const auto& r : retrieval.relevance[d])
      if (r.begin_byte <= a.begin_byte && a.begin_byte < r.end_byte) best = std::max(best, r.relevance);
    CHECK(a.passage_prior == Approx(weight * best).epsilon(1e-6));
  }
  // `longqa read --encoder` scores the document's passages with that encoder; weight 0 turns it off.
  const std::string text = documents[1]["text"].get<std::string>();
  auto read_json = [&](const std::string& extra) {
    const std::string read = std::string(LONGQA_CLI) + " read --model '" + tiny_model_dir() + "' --encoder '" +
                             settings.encoder + "' --passage-tokens 16 --passage-overlap 4 --json --question '" +
                             question + "' --context '" + text + "'" + extra;
    int read_status = 0;
    const std::string out = longqa::test::command_output(read, read_status);
    REQUIRE(read_status == 0);
    return json::parse(out)["answers"];
  };
  const json with_prior = read_json(""), without = read_json(" --passage-weight 0");
  REQUIRE(!with_prior.empty());
  retriever::IndexOptions passages;
  passages.passage_tokens = 16;
  passages.passage_overlap = 4;
  retriever::Document whole;
  whole.text = text;
  const auto relevance =
      retriever::passage_relevance(TextEncoder::load(settings.encoder), passages, whole, question);
  REQUIRE(relevance.size() >= 5);  // 150 words in passages of 16 tokens
  for (const auto& a : with_prior) {
    double best = -1e300;
    for (const auto& r : relevance)
      if (r.begin_byte <= a["begin_byte"].get<int64_t>() && a["begin_byte"].get<int64_t>() < r.end_byte)
        best = std::max(best, r.relevance);
    CHECK(a["passage_prior"].get<double>() == Approx(weight * best).epsilon(1e-5));
  }
  for (const auto& a : without) CHECK(a["passage_prior"].get<double>() == 0);
}

// ---------------------------------------------------------------------------------------
// Who may do what: API keys and scopes, CORS, request ids; the connection limit; TLS.

TEST_CASE("access: key lists, scopes, constant-time digests and per-key rates", "[server][access]") {
  const std::string secret = "k3y-for-the-reader-0123456789";
  const auto keys = parse_api_keys("# team keys\nreader read " + secret +
                                       "\nops admin,read sha256:" + std::string(64, 'a') + "\n\nwriter write,read writer-key-0123456789",
                                   "test");
  REQUIRE(keys.size() == 3);
  CHECK(keys[0].name == "reader");
  CHECK(keys[0].scopes == static_cast<uint8_t>(Scope::kRead));
  CHECK(keys[1].scopes == (static_cast<uint8_t>(Scope::kAdmin) | static_cast<uint8_t>(Scope::kRead)));
  CHECK(keys[1].digest[0] == 0xaa);

  // Errors name the entry, never the key.
  auto error_of = [](const std::string& text) {
    try {
      parse_api_keys(text, "LONGQA_API_KEYS");
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK_THAT(error_of("a read short-key"), Catch::Contains("at least 16") && !Catch::Contains("short-key"));
  CHECK_THAT(error_of("a read 0123456789abcdef\"<>"), Catch::Contains("may hold only") && !Catch::Contains("0123456789abcdef"));
  CHECK_THAT(error_of("a delete 0123456789abcdef"), Catch::Contains("field 2 holds something other than read"));
  // Fields out of order never print the key: not as a scope, not as a name.
  CHECK_THAT(error_of("alice 0123456789abcdef-secret read"), !Catch::Contains("0123456789abcdef-secret"));
  CHECK_THAT(error_of("0123456789abcdef-secret read alice"), Catch::Contains("field 3") && !Catch::Contains("0123456789abcdef-secret"));
  CHECK_THAT(error_of("a read 0123456789abcdef; a write fedcba9876543210"), Catch::Contains("given twice"));
  CHECK_THAT(error_of("a read"), Catch::Contains("entry 1") && Catch::Contains("<name> <scopes> <key>"));
  CHECK_THAT(error_of("a read sha256:xyz"), Catch::Contains("64 hex digits"));

  CHECK(required_scope("GET", "/health") == Scope::kNone);
  CHECK(required_scope("POST", "/v1/ask") == Scope::kRead);
  CHECK(required_scope("GET", "/v1/documents/{id}") == Scope::kRead);
  CHECK(required_scope("DELETE", "/v1/documents/{id}") == Scope::kWrite);
  CHECK(required_scope("POST", "/v1/documents") == Scope::kWrite);
  CHECK(required_scope("GET", "/metrics") == Scope::kAdmin);

  AccessControl open({}, 0);
  CHECK(!open.enabled());
  CHECK(open.authorize("", Scope::kWrite).status == 200);

  AccessControl access(keys, 0);
  CHECK(access.authorize("", Scope::kRead).status == 401);
  CHECK(access.authorize("Basic dXNlcjpwYXNz", Scope::kRead).status == 401);
  CHECK(access.authorize("Bearer " + secret + "x", Scope::kRead).status == 401);
  CHECK(access.authorize("Bearer " + secret, Scope::kNone).status == 200);
  const auto ok = access.authorize("bearer " + secret, Scope::kRead);
  CHECK(ok.status == 200);
  CHECK(ok.key_name == "reader");
  const auto forbidden = access.authorize("Bearer " + secret, Scope::kWrite);
  CHECK(forbidden.status == 403);
  CHECK_THAT(forbidden.www_authenticate, Catch::Contains("insufficient_scope") && Catch::Contains("write"));
  CHECK_THAT(forbidden.message, !Catch::Contains(secret));

  AccessControl uncharged(keys, 1);  // an uncharged check (the transport's early look) takes no token
  CHECK(uncharged.authorize("Bearer " + secret, Scope::kRead, /*charge=*/false).status == 200);
  CHECK(uncharged.authorize("Bearer " + secret, Scope::kRead).status == 200);
  CHECK(uncharged.authorize("Bearer  " + secret, Scope::kRead).status == 429);  // extra spaces: the same key

  AccessControl limited(keys, 2);  // 2 per second, bursts of 2
  CHECK(limited.authorize("Bearer " + secret, Scope::kRead).status == 200);
  CHECK(limited.authorize("Bearer " + secret, Scope::kRead).status == 200);
  const auto over = limited.authorize("Bearer " + secret, Scope::kRead);
  CHECK(over.status == 429);
  CHECK(over.retry_after_s > 0);
  CHECK(over.retry_after_s <= 0.5 + 1e-9);
  CHECK(limited.authorize("Bearer writer-key-0123456789", Scope::kWrite).status == 200);  // each key its own
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(limited.authorize("Bearer " + secret, Scope::kRead).status == 200);
}

TEST_CASE("server: with API keys every endpoint but /health needs one; CORS; request ids", "[server][access]") {
  test::TempDir dir("longqa-server-keys");
  const std::string keys_file = (dir.path() / "keys.txt").string();
  {
    std::ofstream out(keys_file);
    out << "# name scopes key\nreader read reader-key-0123456789abcdef\nadmin admin,read,write admin-key-0123456789abcdef\n";
  }
  ServerSettings settings = test_settings();
  settings.api_keys_file = keys_file;
  settings.api_keys = "writer write writer-key-0123456789abcdef";
  settings.cors_origins = "https://app.example, http://localhost:3000/";
  test::write_random_encoder(dir / "encoder");
  settings.index_dir = dir / "index";
  settings.encoder = dir / "encoder";
  TestServer server(settings);
  Client client(server.port());
  const auto bearer = [](const std::string& key) {
    return std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer " + key}};
  };
  const json api = client.request(http::verb::get, "/openapi.json", "", bearer("reader-key-0123456789abcdef")).json_body();
  const std::string read_body = R"({"question": "which?", "context": "this one"})";

  // /health stays open (load balancers probe it without a key).
  CHECK(client.get("/health").status == 200);

  // A refused request with a body is answered before its body is read, and its connection
  // closed: each refusal below gets a fresh connection.
  const auto fresh = [&] { return Client(server.port()); };
  Reply no_key = fresh().post("/v1/read", read_body);
  check_error(api, no_key, 401, "unauthorized");
  check_documented(api, "POST", "/v1/read", no_key);
  CHECK(no_key.headers.count("www-authenticate"));
  Reply bad_key = fresh().request(http::verb::post, "/v1/read", read_body, bearer("reader-key-0123456789abcdeX"));
  check_error(api, bad_key, 401, "unauthorized");
  CHECK_THAT(bad_key.headers["www-authenticate"], Catch::Contains("invalid_token"));
  CHECK(client.get("/metrics").status == 401);
  CHECK(client.get("/openapi.json").status == 401);

  Reply read = client.request(http::verb::post, "/v1/read", read_body, bearer("reader-key-0123456789abcdef"));
  CHECK(read.status == 200);
  check_documented(api, "POST", "/v1/read", read);

  const std::string add = R"({"documents": [{"id": "d1", "text": "the cat sat on the mat"}]})";
  Reply reader_adds = fresh().request(http::verb::post, "/v1/documents", add, bearer("reader-key-0123456789abcdef"));
  check_error(api, reader_adds, 403, "forbidden");
  check_documented(api, "POST", "/v1/documents", reader_adds);
  CHECK_THAT(reader_adds.body, Catch::Contains("'write' scope") && !Catch::Contains("0123456789"));
  CHECK(client.request(http::verb::post, "/v1/documents", add, bearer("writer-key-0123456789abcdef")).status == 200);
  CHECK(client.request(http::verb::get, "/v1/documents/d1", "", bearer("writer-key-0123456789abcdef")).status == 403);
  CHECK(client.request(http::verb::get, "/v1/documents/d1", "", bearer("reader-key-0123456789abcdef")).status == 200);
  check_error(api, client.request(http::verb::delete_, "/v1/documents/d1", "", bearer("reader-key-0123456789abcdef")), 403,
              "forbidden");
  CHECK(client.request(http::verb::get, "/v1/info", "", bearer("reader-key-0123456789abcdef")).status == 403);
  CHECK(client.request(http::verb::get, "/v1/info", "", bearer("admin-key-0123456789abcdef")).status == 200);
  CHECK(client.request(http::verb::delete_, "/v1/documents/d1", "", bearer("admin-key-0123456789abcdef")).status == 200);

  // A refused 100-continue body is refused before it is sent.
  client.send(http::verb::post, "/v1/documents", add, {{"Expect", "100-continue"}});
  CHECK(client.receive().status == 401);

  // Without a key a client cannot hold a connection by trickling a body: the 401 comes
  // after the header, and the connection closes.
  {
    Client slow(server.port(), 10);
    slow.send_raw("POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{");
    const auto t0 = Clock::now();
    CHECK(slow.receive().status == 401);
    CHECK(seconds_since(t0) < 2);
    CHECK(slow.closed_by_server());
  }
  // With a rate of 1 request per second, a 100-continue request costs one token, not two
  // (the early look at its header takes none): tested in the access case below.

  SECTION("request ids: ours on every response, the client's kept when plain") {
    Client c(server.port());
    const Reply a = c.get("/health"), b = c.get("/health");
    REQUIRE(a.headers.count("x-request-id"));
    CHECK(a.headers.at("x-request-id") != b.headers.at("x-request-id"));
    CHECK(c.request(http::verb::get, "/health", "", {{"X-Request-Id", "trace-42.a:b"}}).headers.at("x-request-id") ==
          "trace-42.a:b");
    const std::string odd = c.request(http::verb::get, "/health", "", {{"X-Request-Id", "bad id<script>"}}).headers.at("x-request-id");
    CHECK(odd != "bad id<script>");
    CHECK(c.post("/v1/read", read_body).headers.count("x-request-id"));  // errors too
  }

  SECTION("CORS: allowed origins get the headers, a preflight needs no key, others get none") {
    Client c(server.port());
    Reply preflight = c.request(http::verb::options, "/v1/read", "",
                                {{"Origin", "https://app.example"},
                                 {"Access-Control-Request-Method", "POST"},
                                 {"Access-Control-Request-Headers", "authorization, content-type"}});
    CHECK(preflight.status == 204);
    CHECK(preflight.headers["access-control-allow-origin"] == "https://app.example");
    CHECK_THAT(preflight.headers["access-control-allow-headers"], Catch::Contains("Authorization"));
    CHECK_THAT(preflight.headers["access-control-allow-methods"], Catch::Contains("POST"));
    Reply from_local = c.request(http::verb::post, "/v1/read", read_body,
                                 {{"Origin", "http://localhost:3000"}, {"Authorization", "Bearer reader-key-0123456789abcdef"}});
    CHECK(from_local.status == 200);
    CHECK(from_local.headers["access-control-allow-origin"] == "http://localhost:3000");
    CHECK_THAT(from_local.headers["access-control-expose-headers"], Catch::Contains("X-Request-Id"));
    Reply denied_but_cors = c.request(http::verb::post, "/v1/read", read_body, {{"Origin", "https://app.example"}});
    CHECK(denied_but_cors.status == 401);  // the page can read why
    CHECK(denied_but_cors.headers["access-control-allow-origin"] == "https://app.example");
    Client c2(server.port());  // the 401 above, to a request with a body, closed its connection
    Reply stranger = c2.request(http::verb::options, "/v1/read", "", {{"Origin", "https://evil.example"}});
    CHECK(stranger.headers.count("access-control-allow-origin") == 0);
    Reply health = c2.request(http::verb::get, "/health", "", {{"Origin", "https://evil.example"}});
    CHECK(health.headers.count("access-control-allow-origin") == 0);
    CHECK(health.headers["vary"] == "Origin");  // caches keep answers to different origins apart
  }
}

TEST_CASE("server: a bad key list, or a TLS file that cannot be read, stops the server before it binds", "[server][access]") {
  ServerSettings settings = test_settings();
  settings.api_keys = "x read tooshort";
  CHECK_THROWS_WITH(Server(settings), Catch::Contains("api_keys, entry 1: a key (field 3)") && !Catch::Contains("tooshort"));
  settings = test_settings();
  settings.api_keys_file = "/nonexistent/keys.txt";
  CHECK_THROWS_WITH(Server(settings), Catch::Contains("/nonexistent/keys.txt: cannot open"));
  settings = test_settings();
  settings.tls_certificate = "/nonexistent/cert.pem";
  settings.tls_key = "/nonexistent/key.pem";
  CHECK_THROWS_WITH(Server(settings), Catch::Contains("tls_certificate /nonexistent/cert.pem"));
  settings.tls_key = "";
  CHECK_THROWS_WITH(settings.validate(), Catch::Contains("give both or neither"));
}

namespace {

// Raw loopback sockets: 10,000 Beast clients would each hold an io_context's descriptors.
int raw_connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Without blocking: has the server closed (or refused) this connection?
bool raw_closed(int fd) {
  char buffer[512];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n > 0) continue;  // a 503 before the close
    return errno != EAGAIN && errno != EWOULDBLOCK;
  }
}

size_t raise_own_file_limit(size_t wanted) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(wanted, limit.rlim_max);
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<size_t>(limit.rlim_cur);
}

}  // namespace

TEST_CASE("server: 10,000 half-sent headers are cut off while /health keeps answering", "[server][slow]") {
  ServerSettings settings = test_settings();
  settings.max_connections = 1000;
  settings.header_timeout_s = 2;
  TestServer server(settings);

  // Both ends of every connection live in this process: ours, and the server's (at most max_connections).
  const size_t file_limit = raise_own_file_limit(12000);
  const size_t slow_count = std::min<size_t>(10000, file_limit > 1500 ? file_limit - 1500 : 0);
  INFO("open-file limit " << file_limit << ": " << slow_count << " slow connections");
  REQUIRE(slow_count >= 2000);

  const std::string half_header = "GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: ";
  std::vector<int> slow;
  double worst_health_s = 0;
  auto probe_health = [&] {
    const auto t0 = Clock::now();
    Client probe(server.port(), 10);
    CHECK(probe.get("/health").status == 200);
    worst_health_s = std::max(worst_health_s, seconds_since(t0));
  };
  const auto opened = Clock::now();
  for (size_t i = 0; i < slow_count; ++i) {
    const int fd = raw_connect(server.port());
    REQUIRE(fd >= 0);
    (void)::send(fd, half_header.data(), half_header.size(), MSG_NOSIGNAL);
    slow.push_back(fd);
    if (i % 1000 == 999) probe_health();
  }
  const double open_s = seconds_since(opened);
  probe_health();
  INFO("opened in " << open_s << " s; slowest /health " << worst_health_s << " s");
  CHECK(worst_health_s < 2.0);

  // Past header_timeout_s every one is closed: those over the limit at once, the rest by the deadline.
  const auto deadline = Clock::now() + std::chrono::seconds(8);
  size_t closed = 0;
  std::vector<bool> done(slow.size(), false);
  while (closed < slow.size() && Clock::now() < deadline) {
    for (size_t i = 0; i < slow.size(); ++i)
      if (!done[i] && raw_closed(slow[i])) {
        done[i] = true;
        ++closed;
      }
    if (closed < slow.size()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (int fd : slow) ::close(fd);
  CHECK(closed == slow.size());
  Client after(server.port());
  CHECK(after.get("/health").status == 200);
  const std::string metrics = after.get("/metrics").body;
  CHECK(metric(metrics, "longqa_connections_evicted_total") >= static_cast<double>(slow_count - 1000));
}

TEST_CASE("server: connections over the limit while all are busy are refused with 503", "[server]") {
  ServerSettings settings = test_settings(slow_model_dir());
  settings.max_connections = 2;
  settings.workers = 1;
  TestServer server(settings);
  // Two requests in flight hold both connections.
  const std::string slow_read = json{{"question", "q"}, {"context", filler(6000, 1)}}.dump();
  Client a(server.port()), b(server.port());
  a.send(http::verb::post, "/v1/read", slow_read);
  b.send(http::verb::post, "/v1/read", slow_read);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Client c(server.port(), 10);
  const auto t0 = Clock::now();
  Reply refused;
  try {
    refused = c.receive();
  } catch (const std::exception&) {
    // A reset before the 503 was read also counts as refused.
  }
  CHECK(seconds_since(t0) < 5);
  if (refused.status != 0) {
    CHECK(refused.status == 503);
    CHECK_THAT(refused.body, Catch::Contains("too_many_connections"));
  }
  CHECK(a.receive().status == 200);
  CHECK(b.receive().status == 200);
}

namespace {

namespace ssl = boost::asio::ssl;

// A self-signed certificate for 127.0.0.1 and localhost, made by Debian's openssl.
void make_certificate(const std::string& cert, const std::string& key) {
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
                              "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout '" + key + "' -out '" + cert +
                              "' >/dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
}

// One HTTPS GET, the server's certificate checked against `trusted`; throws when the
// handshake or the request fails.
Reply https_get(uint16_t port, const std::string& trusted, const std::string& target,
                const std::string& authorization = "") {
  net::io_context ioc;
  ssl::context tls(ssl::context::tls_client);
  tls.load_verify_file(trusted);
  tls.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, tls);
  stream.set_verify_callback(ssl::host_name_verification("localhost"));
  SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(20));
  beast::get_lowest_layer(stream).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  stream.handshake(ssl::stream_base::client);
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "localhost");
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  Reply r;
  r.status = static_cast<int>(res.result_int());
  r.body = res.body();
  for (const auto& field : res) r.headers[lower(std::string(field.name_string()))] = std::string(field.value());
  beast::error_code ignored;
  stream.shutdown(ignored);
  return r;
}

}  // namespace

TEST_CASE("server: HTTPS with a self-signed certificate; plain HTTP and untrusted clients get nothing", "[server][tls]") {
  test::TempDir dir("longqa-server-tls");
  make_certificate(dir / "cert.pem", dir / "key.pem");
  make_certificate(dir / "other.pem", dir / "other-key.pem");
  ServerSettings settings = test_settings();
  settings.tls_certificate = dir / "cert.pem";
  settings.tls_key = dir / "key.pem";
  settings.api_keys = "reader read reader-key-0123456789abcdef";
  Server server(settings);
  server.start();
  const auto start = Clock::now();
  Reply health;
  while (seconds_since(start) < 120) {
    health = https_get(server.port(), dir / "cert.pem", "/health");
    if (health.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(health.status == 200);
  CHECK(health.headers.count("x-request-id"));
  CHECK(https_get(server.port(), dir / "cert.pem", "/openapi.json").status == 401);
  CHECK(https_get(server.port(), dir / "cert.pem", "/openapi.json", "Bearer reader-key-0123456789abcdef").status == 200);

  // A client that trusts another certificate fails its handshake.
  CHECK_THROWS(https_get(server.port(), dir / "other.pem", "/health"));
  // Plain HTTP to the TLS port gets no HTTP answer.
  Client plain(server.port(), 10);
  plain.send_raw("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(plain.closed_by_server());
  server.shutdown();
  server.wait();
}
