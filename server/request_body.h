// A request body, checked before any handler sees it: UTF-8, nesting depth, JSON syntax,
// then the route's request schema in openapi.json (whose limits the settings fill in).
#pragma once
#include <nlohmann/json.hpp>
#include <variant>

#include "responses.h"
#include "routes.h"
#include "settings.h"

namespace longqa::server {

// The settings' limits replace the placeholders of the embedded document:
// "x-longqa-limit": {"maxLength": "max_question_chars"} sets maxLength from that setting.
void fill_limits(nlohmann::json& openapi, const ServerSettings& settings);

// The parsed body, or the 400 to answer.
std::variant<nlohmann::json, Response> parse_request_body(const std::string& body, const nlohmann::json& openapi,
                                                          const Route& route);

}  // namespace longqa::server
