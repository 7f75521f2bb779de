// A small checker for the JSON Schema subset OpenAPI 3.0 documents use. The server
// validates request bodies against its own /openapi.json with it, and the tests check
// every response against the same document, so the description cannot drift from the code.
// Keywords: $ref (into the root document), type, nullable, enum, required, properties,
// additionalProperties, items, minItems, maxItems, minLength, maxLength (code points),
// minimum, maximum, oneOf. Others are ignored.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace longqa::server {

struct SchemaError {
  std::string path;     // where in the value: "contexts[2]", "" for the value itself
  std::string keyword;  // the schema keyword that failed: "type", "maxLength", ...
  std::string message;  // "contexts[2]: expected a string, got a number"
};

// The first place where `value` breaks `schema`; nullopt when it conforms.
// `root` is the document that `$ref`s point into ("#/components/schemas/Answer").
std::optional<SchemaError> check_schema(const nlohmann::json& root, const nlohmann::json& schema,
                                        const nlohmann::json& value);

// Follows a local "$ref" ("#/a/b"); throws std::invalid_argument when it leads nowhere.
const nlohmann::json& resolve_ref(const nlohmann::json& root, const std::string& ref);

}  // namespace longqa::server
