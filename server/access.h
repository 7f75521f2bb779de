// Who may do what: API keys with scopes, given as bearer tokens, and an optional request
// rate per key. Keys come from a file and/or the LONGQA_API_KEYS setting; only their SHA-256
// digests are kept in memory, compared in constant time, and nothing here ever prints a key.
// Without keys the API is open (the default, for loopback use).
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace longqa::server {

// read: /v1/read, /v1/ask, /v1/retrieve, GET /v1/documents/{id}, /openapi.json
// write: POST /v1/documents, DELETE /v1/documents/{id}
// admin: /v1/info, /metrics
enum class Scope : uint8_t { kNone = 0, kRead = 1, kWrite = 2, kAdmin = 4 };

// The scope an endpoint needs ("/health" needs none). `pattern` is the route pattern.
Scope required_scope(const std::string& method, const std::string& pattern);
const char* scope_name(Scope scope);

// The key list's text: one key per line (or separated by ';'), each
//     <name> <scopes> <key>
// name: letters, digits, '_', '.', '-' (what logs and metrics show instead of the key);
// scopes: comma-separated read, write, admin; key: at least 16 characters of
// A-Z a-z 0-9 - . _ ~ + / = (RFC 6750 token characters), or "sha256:" and 64 hex digits to
// keep only the digest in the file. '#' starts a comment.
struct ApiKeyEntry {
  std::string name;
  uint8_t scopes = 0;              // Scope bits
  std::array<uint8_t, 32> digest;  // SHA-256 of the key
};
// Throws std::invalid_argument naming `origin` and the entry's number, never a field's text
// (a line with its fields out of order would otherwise print its key).
std::vector<ApiKeyEntry> parse_api_keys(const std::string& text, const std::string& origin);

class AccessControl {
 public:
  // `requests_per_second` > 0 limits each key to that rate (bursts of as many).
  AccessControl(std::vector<ApiKeyEntry> keys, double requests_per_second);
  // From the settings' api_keys_file and api_keys (either or both may be empty).
  static AccessControl from_settings(const std::string& keys_file, const std::string& inline_keys,
                                     double requests_per_second);

  bool enabled() const { return !keys_.empty(); }
  size_t size() const { return keys_.size(); }

  struct Decision {
    int status = 200;          // 200, 401, 403 or 429
    std::string code, message;  // for the error envelope
    std::string key_name;       // the key's name when one matched
    std::string www_authenticate;  // for 401/403
    double retry_after_s = 0;      // for 429
  };
  // `authorization` is the Authorization header as sent ("" when absent). `charge` false
  // checks without taking from the key's rate (the transport's early look at a header,
  // before the same request is authorized again with its body).
  Decision authorize(const std::string& authorization, Scope needed, bool charge = true);

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled;
  };
  std::vector<ApiKeyEntry> keys_;
  double rate_;
  std::mutex mutex_;
  std::vector<Bucket> buckets_;  // one per key
};

}  // namespace longqa::server
