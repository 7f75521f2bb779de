#include "routes.h"

#include <cctype>
#include <stdexcept>

#include "longqa/common/utf8.h"

namespace longqa::server {

const std::vector<Route>& api_routes() {
  static const std::vector<Route> routes = {
      {"GET", "/health"},        {"GET", "/metrics"},           {"GET", "/openapi.json"},
      {"GET", "/v1/info"},       {"POST", "/v1/read"},          {"POST", "/v1/ask"},
      {"POST", "/v1/retrieve"},  {"POST", "/v1/documents"},     {"GET", "/v1/documents/{id}"},
      {"DELETE", "/v1/documents/{id}"}};
  return routes;
}

std::optional<std::string> percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      return std::nullopt;
    out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

RouteMatch match_route(const std::string& method, const std::string& target) {
  RouteMatch m;
  const std::string path = target.substr(0, target.find('?'));
  const std::string documents = "/v1/documents/";
  std::string pattern = path;
  if (path.size() > documents.size() && path.compare(0, documents.size(), documents) == 0 &&
      path.find('/', documents.size()) == std::string::npos) {
    pattern = documents + "{id}";
    auto id = percent_decode(path.substr(documents.size()));
    if (!id) {
      m.error = error_response(400, "invalid_value", "document id in the path is not valid percent-encoding");
      return m;
    }
    try {
      validate_utf8(*id);
    } catch (const std::invalid_argument& e) {
      m.error = error_response(400, "invalid_utf8", std::string("document id in the path: ") + e.what());
      return m;
    }
    m.id = std::move(*id);
  }
  std::string allowed;
  for (const auto& route : api_routes()) {
    if (route.pattern != pattern) continue;
    if (route.method == method) {
      m.route = &route;
      return m;
    }
    allowed += (allowed.empty() ? "" : ", ") + route.method;
  }
  if (allowed.empty()) {
    m.error = error_response(404, "not_found", "no such endpoint: " + method + " " + path + " (see GET /openapi.json)");
  } else {
    m.error = error_response(405, "method_not_allowed", pattern + " accepts " + allowed + ", not " + method);
    m.error->headers.emplace_back("Allow", allowed);
    m.error->endpoint = pattern;
  }
  return m;
}

}  // namespace longqa::server
