// What the API takes and gives, without the HTTP transport: a request's method, target and
// body; a response's status, body and headers; the JSON error envelope
// {"error": {"code", "message", "type"}} and which status an exception becomes.
#pragma once
#include <exception>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace longqa::server {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string body;
  std::string authorization;  // the Authorization header ("" when absent)
  std::string origin;         // the Origin header, for CORS ("" when absent)
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type
  std::string endpoint = "other";  // the route pattern, for metrics
  std::string key_name;            // the API key's name (never the key), for the access log
};

// Called once per request, from an I/O thread or a worker thread.
using Respond = std::function<void(Response)>;

Response json_response(int status, const nlohmann::json& body);
// The error envelope; "type" is one word per status family, as openapi.json lists them.
Response error_response(int status, const std::string& code, const std::string& message);
// An exception from a job: bad input the schema cannot see (std::invalid_argument) is the
// client's (400), the rest ours (500).
Response exception_response(std::exception_ptr error);

}  // namespace longqa::server
