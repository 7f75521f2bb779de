#include "responses.h"

#include <stdexcept>

#include "longqa/answer_json.h"
#include "longqa/common/errors.h"

namespace longqa::server {
namespace {

const char* error_type(int status) {
  switch (status) {
    case 400: return "invalid_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413: case 431: return "too_large";
    case 429: return "overloaded";
    case 503: return "unavailable";
    default: return status < 500 ? "invalid_request" : "internal";
  }
}

}  // namespace

Response json_response(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = dump_json(body);
  return r;
}

Response error_response(int status, const std::string& code, const std::string& message) {
  return json_response(status, {{"error", {{"code", code}, {"message", message}, {"type", error_type(status)}}}});
}

Response exception_response(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::invalid_argument& e) {
    return error_response(400, "invalid_value", e.what());
  } catch (const StoreUnavailableError& e) {
    Response r = error_response(503, "store_unavailable", e.what());
    r.headers.emplace_back("Retry-After", "1");  // a reconnect is tried with the next request
    return r;
  } catch (const std::exception& e) {
    return error_response(500, "internal_error", e.what());
  } catch (...) {
    return error_response(500, "internal_error", "unknown error");
  }
}

}  // namespace longqa::server
