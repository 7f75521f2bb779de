// The API's routes and matching a request's method and target to one of them (before the
// body is read): 404 for an unknown path, 405 (with Allow) for a known path with another
// method, 400 for a document id that is not valid percent-encoded UTF-8.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "responses.h"

namespace longqa::server {

struct Route {
  std::string method, pattern;  // "DELETE", "/v1/documents/{id}"
};

const std::vector<Route>& api_routes();

struct RouteMatch {
  const Route* route = nullptr;   // set when matched
  std::optional<Response> error;  // set when not
  std::string id;                 // the {id} of /v1/documents/{id}, decoded
  std::string key_name;           // the API key that was let in (set by the Service)
};
RouteMatch match_route(const std::string& method, const std::string& target);

// "%2F" -> "/"; nullopt for a malformed escape.
std::optional<std::string> percent_decode(const std::string& text);

}  // namespace longqa::server
