#include "request_body.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "json_schema.h"
#include "longqa/common/errors.h"
#include "longqa/common/utf8.h"

namespace longqa::server {
namespace {

using nlohmann::json;

constexpr int kMaxJsonDepth = 64;

// Deeper nesting than any request needs is refused before parsing (the checker recurses).
bool nested_deeper_than(const std::string& text, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// The 400 for a body that breaks its schema; the code says how. (413 is for the body's
// size alone: the fields' limits are part of the schema, which clients can read.)
Response schema_error(const SchemaError& e) {
  const std::string code = e.keyword == "required"                                  ? "missing_field"
                           : e.keyword == "additionalProperties"                    ? "unknown_field"
                           : e.keyword == "type"                                    ? "wrong_type"
                           : e.keyword == "maxLength" || e.keyword == "maxItems"    ? "too_long"
                                                                                    : "invalid_value";
  return error_response(400, code, e.message);
}

}  // namespace

void fill_limits(json& node, const ServerSettings& settings) {
  if (node.is_object()) {
    if (auto limits = node.find("x-longqa-limit"); limits != node.end()) {
      for (const auto& item : limits->items()) {
        const std::string keyword = item.key();
        const json& setting = item.value();
        const auto& specs = setting_specs();
        auto spec = std::find_if(specs.begin(), specs.end(), [&](const SettingSpec& s) { return s.name == setting; });
        if (spec == specs.end()) throw std::logic_error("openapi.json names an unknown setting " + setting.dump());
        node[keyword] = json::parse(spec->show(settings));
      }
      node.erase("x-longqa-limit");
    }
    for (auto& [key, child] : node.items()) fill_limits(child, settings);
  } else if (node.is_array()) {
    for (auto& child : node) fill_limits(child, settings);
  }
}

std::variant<json, Response> parse_request_body(const std::string& text, const json& openapi, const Route& route) {
  if (text.empty()) return error_response(400, "bad_json", "the request body is empty; expected a JSON object");
  if (const size_t bad = invalid_utf8_at(text); bad != std::string::npos)
    return error_response(400, "invalid_utf8", "request body: invalid UTF-8 at byte offset " + std::to_string(bad));
  if (nested_deeper_than(text, kMaxJsonDepth))
    return error_response(400, "bad_json", "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double
    return error_response(400, "bad_json", "invalid JSON: " + json_error_text(e));
  }
  std::string method = route.method;
  std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::tolower(c); });
  const json& schema = openapi["paths"][route.pattern][method]["requestBody"]["content"]["application/json"]["schema"];
  if (auto e = check_schema(openapi, schema, body)) return schema_error(*e);
  return body;
}

}  // namespace longqa::server
