#include "json_schema.h"

#include <cmath>
#include <stdexcept>

namespace longqa::server {
namespace {

using nlohmann::json;

// What a JSON value is called in messages and in the schema's "type".
const char* kind_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    default: return "object";
  }
}

bool has_type(const json& v, const std::string& type) {
  if (type == "integer") {
    if (v.is_number_integer()) return true;
    // 3.0 is an integer too (JSON Schema counts values, not spellings).
    const double x = v.is_number_float() ? v.get<double>() : 0.5;
    return std::floor(x) == x && std::fabs(x) < 9.007199254740992e15;
  }
  if (type == "number") return v.is_number();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "array") return v.is_array();
  if (type == "object") return v.is_object();
  return false;
}

// Code points of UTF-8 text (the parser already rejected ill-formed text).
int64_t code_points(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string a_or_an(const std::string& word) {
  return (word.find_first_of("aeiou") == 0 ? "an " : "a ") + word;
}

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

std::string where(const std::string& path) { return path.empty() ? "body" : path; }

class Checker {
 public:
  explicit Checker(const json& root) : root_(root) {}

  std::optional<SchemaError> check(const json& schema, const json& v, const std::string& path) const {
    if (auto ref = schema.find("$ref"); ref != schema.end()) return check(resolve_ref(root_, *ref), v, path);
    auto fail = [&](const char* keyword, const std::string& what) {
      return SchemaError{path, keyword, where(path) + ": " + what};
    };
    if (v.is_null() && schema.value("nullable", false)) return std::nullopt;
    if (auto type = schema.find("type"); type != schema.end() && !has_type(v, *type)) {
      return fail("type", "expected " + a_or_an(type->get<std::string>()) + ", got " +
                              (v.is_null() ? std::string("null") : a_or_an(kind_of(v))));
    }
    if (auto e = schema.find("enum"); e != schema.end()) {
      bool found = false;
      for (const auto& option : *e) found = found || option == v;
      if (!found) return fail("enum", "must be one of " + e->dump());
    }
    if (v.is_string()) {
      const int64_t n = code_points(v.get_ref<const std::string&>());
      if (schema.contains("maxLength") && n > schema["maxLength"].get<int64_t>())
        return fail("maxLength", "longer than " + schema["maxLength"].dump() + " characters (" + std::to_string(n) + ")");
      if (schema.contains("minLength") && n < schema["minLength"].get<int64_t>())
        return fail("minLength", "shorter than " + schema["minLength"].dump() + " characters");
    }
    if (v.is_number()) {
      const double x = v.get<double>();
      if (schema.contains("minimum") && x < schema["minimum"].get<double>())
        return fail("minimum", "must be >= " + schema["minimum"].dump() + ", got " + v.dump());
      if (schema.contains("maximum") && x > schema["maximum"].get<double>())
        return fail("maximum", "must be <= " + schema["maximum"].dump() + ", got " + v.dump());
    }
    if (v.is_array()) {
      const auto n = static_cast<int64_t>(v.size());
      if (schema.contains("maxItems") && n > schema["maxItems"].get<int64_t>())
        return fail("maxItems", "more than " + schema["maxItems"].dump() + " items (" + std::to_string(n) + ")");
      if (schema.contains("minItems") && n < schema["minItems"].get<int64_t>())
        return fail("minItems", "fewer than " + schema["minItems"].dump() + " items");
      if (auto items = schema.find("items"); items != schema.end())
        for (size_t i = 0; i < v.size(); ++i)
          if (auto e = check(*items, v[i], path + "[" + std::to_string(i) + "]")) return e;
    }
    if (v.is_object()) {
      if (auto e = check_object(schema, v, path)) return e;
    }
    if (auto one_of = schema.find("oneOf"); one_of != schema.end()) {
      int matches = 0;
      for (const auto& alternative : *one_of) matches += !check(alternative, v, path).has_value();
      if (matches != 1) return fail("oneOf", "must match exactly one of " + describe(*one_of) + " (matches " + std::to_string(matches) + ")");
    }
    return std::nullopt;
  }

 private:
  std::optional<SchemaError> check_object(const json& schema, const json& v, const std::string& path) const {
    if (auto required = schema.find("required"); required != schema.end())
      for (const auto& name : *required)
        if (!v.contains(name.get<std::string>()))
          return SchemaError{join(path, name), "required", "missing required field '" + join(path, name) + "'"};
    const json empty = json::object();
    const json& properties = schema.contains("properties") ? schema["properties"] : empty;
    for (const auto& [key, value] : v.items()) {
      if (auto p = properties.find(key); p != properties.end()) {
        if (auto e = check(*p, value, join(path, key))) return e;
        continue;
      }
      auto additional = schema.find("additionalProperties");
      if (additional == schema.end() || (additional->is_boolean() && additional->get<bool>())) continue;
      if (additional->is_boolean()) return SchemaError{join(path, key), "additionalProperties", "unknown field '" + join(path, key) + "'"};
      if (auto e = check(*additional, value, join(path, key))) return e;
    }
    return std::nullopt;
  }

  // oneOf alternatives that differ by their required fields read as "{context} | {contexts}".
  std::string describe(const json& alternatives) const {
    std::string out;
    for (const auto& a : alternatives) {
      if (!out.empty()) out += " | ";
      out += a.contains("required") ? a["required"].dump() : a.dump();
    }
    return out;
  }

  const json& root_;
};

}  // namespace

const json& resolve_ref(const json& root, const std::string& ref) {
  if (ref.rfind("#/", 0) != 0) throw std::invalid_argument("schema $ref '" + ref + "': only local references are supported");
  const json* node = &root;
  try {
    node = &root.at(json::json_pointer(ref.substr(1)));
  } catch (const json::exception&) {
    throw std::invalid_argument("schema $ref '" + ref + "' leads nowhere");
  }
  return *node;
}

std::optional<SchemaError> check_schema(const json& root, const json& schema, const json& value) {
  return Checker(root).check(schema, value, "");
}

}  // namespace longqa::server
