// The HTTP request path up to the handlers: Beast's parser with the server's header and body
// limits, then what the server does with what it parsed: route matching (percent-decoding
// and UTF-8 checks of document ids), the API key check, and the body's JSON and OpenAPI
// schema check. Nothing may crash; every refusal must be an error response the document lists.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_util.h"
#include "server/access.h"
#include "server/request_body.h"
#include "server/routes.h"
#include "server/settings.h"

namespace longqa::server {
extern const char* const kOpenApiText;
}

namespace {

namespace http = boost::beast::http;
using namespace longqa::server;

const nlohmann::json& openapi() {
  static const nlohmann::json api = [] {
    auto j = nlohmann::json::parse(kOpenApiText);
    fill_limits(j, ServerSettings{});
    return j;
  }();
  return api;
}

AccessControl& access() {
  static AccessControl a(parse_api_keys("reader read reader-key-0123456789abcdef; admin admin,write,read "
                                        "sha256:" + std::string(64, '0'),
                                        "fuzz"),
                         0);
  return a;
}

void check_error(const Response& r) {
  FUZZ_CHECK(r.status >= 400 && r.status < 600, std::to_string(r.status));
  const auto body = nlohmann::json::parse(r.body, nullptr, false);
  FUZZ_CHECK(body.is_object() && body.contains("error") && body["error"].contains("code"), r.body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ServerSettings settings;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(settings.max_header_bytes));
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (used < size && !parser.is_done()) {
    const size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec == http::error::need_more) break;
    if (ec) return 0;  // the server answers 400/413/431 or closes
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_done()) {
    if (!parser.got_some()) return 0;  // nothing sent: the server waits, then closes
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
  }
  const auto& req = parser.get();
  const std::string method(req.method_string()), target(req.target());
  percent_decode(target);
  RouteMatch m = match_route(method, target);
  if (m.error) {
    check_error(*m.error);
    return 0;
  }
  const auto decision = access().authorize(std::string(req[http::field::authorization]),
                                           required_scope(method, m.route->pattern));
  FUZZ_CHECK(decision.status == 200 || decision.status == 401 || decision.status == 403, std::to_string(decision.status));
  if (method == "POST") {
    auto parsed = parse_request_body(req.body(), openapi(), *m.route);
    if (auto* refusal = std::get_if<Response>(&parsed)) check_error(*refusal);
  }
  return 0;
}
