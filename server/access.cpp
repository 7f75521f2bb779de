#include "access.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace longqa::server {
namespace {

std::array<uint8_t, 32> sha256(const std::string& text) {
  std::array<uint8_t, 32> digest{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 || size != 32)
    throw std::runtime_error("SHA-256 failed (OpenSSL)");
  return digest;
}

bool is_token_char(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

bool is_name_char(unsigned char c) { return std::isalnum(c) || c == '_' || c == '.' || c == '-'; }

std::optional<std::array<uint8_t, 32>> parse_hex_digest(const std::string& hex) {
  if (hex.size() != 64) return std::nullopt;
  std::array<uint8_t, 32> digest{};
  for (size_t i = 0; i < 32; ++i) {
    const std::string byte = hex.substr(2 * i, 2);
    if (!std::isxdigit(static_cast<unsigned char>(byte[0])) || !std::isxdigit(static_cast<unsigned char>(byte[1])))
      return std::nullopt;
    digest[i] = static_cast<uint8_t>(std::stoi(byte, nullptr, 16));
  }
  return digest;
}

uint8_t parse_scopes(const std::string& text, const std::string& where) {
  uint8_t scopes = 0;
  std::stringstream parts(text);
  std::string part;
  while (std::getline(parts, part, ',')) {
    if (part == "read") scopes |= static_cast<uint8_t>(Scope::kRead);
    else if (part == "write") scopes |= static_cast<uint8_t>(Scope::kWrite);
    else if (part == "admin") scopes |= static_cast<uint8_t>(Scope::kAdmin);
    else throw std::invalid_argument(where + ": field 2 holds something other than read, write, admin");
  }
  if (scopes == 0) throw std::invalid_argument(where + ": no scopes");
  return scopes;
}

}  // namespace

Scope required_scope(const std::string& method, const std::string& pattern) {
  if (pattern == "/health") return Scope::kNone;
  if (pattern == "/v1/info" || pattern == "/metrics") return Scope::kAdmin;
  if (pattern == "/v1/documents" || (pattern == "/v1/documents/{id}" && method == "DELETE")) return Scope::kWrite;
  return Scope::kRead;
}

const char* scope_name(Scope scope) {
  switch (scope) {
    case Scope::kRead: return "read";
    case Scope::kWrite: return "write";
    case Scope::kAdmin: return "admin";
    default: return "none";
  }
}

std::vector<ApiKeyEntry> parse_api_keys(const std::string& text, const std::string& origin) {
  std::vector<ApiKeyEntry> keys;
  std::string normalized = text;
  std::replace(normalized.begin(), normalized.end(), ';', '\n');
  std::stringstream lines(normalized);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::stringstream fields(line);
    std::vector<std::string> parts;
    for (std::string f; fields >> f;) parts.push_back(f);
    if (parts.empty()) continue;
    const std::string where = origin + ", entry " + std::to_string(number);
    if (parts.size() != 3) throw std::invalid_argument(where + ": expected '<name> <scopes> <key>'");
    ApiKeyEntry entry;
    entry.name = parts[0];
    if (!std::all_of(entry.name.begin(), entry.name.end(), [](char c) { return is_name_char(static_cast<unsigned char>(c)); }))
      throw std::invalid_argument(where + ": the name (field 1) may hold only letters, digits, '_', '.', '-'");
    for (const auto& other : keys)
      if (other.name == entry.name) throw std::invalid_argument(where + ": its name (field 1) is given twice");
    entry.scopes = parse_scopes(parts[1], where);
    const std::string& key = parts[2];
    if (key.rfind("sha256:", 0) == 0) {
      auto digest = parse_hex_digest(key.substr(7));
      if (!digest) throw std::invalid_argument(where + ": sha256: needs 64 hex digits");
      entry.digest = *digest;
    } else {
      // The key itself is never echoed in an error.
      if (key.size() < 16) throw std::invalid_argument(where + ": a key (field 3) needs at least 16 characters");
      if (!std::all_of(key.begin(), key.end(), [](char c) { return is_token_char(static_cast<unsigned char>(c)); }))
        throw std::invalid_argument(where + ": a key (field 3) may hold only A-Z a-z 0-9 - . _ ~ + / =");
      entry.digest = sha256(key);
    }
    keys.push_back(std::move(entry));
  }
  return keys;
}

AccessControl::AccessControl(std::vector<ApiKeyEntry> keys, double requests_per_second)
    : keys_(std::move(keys)), rate_(requests_per_second), buckets_(keys_.size()) {
  for (auto& b : buckets_) {
    b.tokens = std::max(1.0, rate_);
    b.refilled = std::chrono::steady_clock::now();
  }
}

AccessControl AccessControl::from_settings(const std::string& keys_file, const std::string& inline_keys,
                                           double requests_per_second) {
  std::vector<ApiKeyEntry> keys;
  if (!keys_file.empty()) {
    std::ifstream in(keys_file, std::ios::binary);
    if (!in) throw std::invalid_argument("api_keys_file " + keys_file + ": cannot open");
    std::stringstream text;
    text << in.rdbuf();
    keys = parse_api_keys(text.str(), "api_keys_file " + keys_file);
  }
  for (auto& entry : parse_api_keys(inline_keys, "api_keys")) {
    for (const auto& other : keys)
      if (other.name == entry.name) throw std::invalid_argument("api_keys: a key name is also in api_keys_file");
    keys.push_back(std::move(entry));
  }
  return AccessControl(std::move(keys), requests_per_second);
}

AccessControl::Decision AccessControl::authorize(const std::string& authorization, Scope needed, bool charge) {
  Decision d;
  if (!enabled() || needed == Scope::kNone) return d;
  const std::string bearer = "bearer ";
  std::string scheme = authorization.substr(0, std::min(authorization.size(), bearer.size()));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (authorization.empty() || scheme != bearer) {
    d.status = 401;
    d.code = "unauthorized";
    d.message = authorization.empty() ? "this server requires an API key: send 'Authorization: Bearer <key>'"
                                      : "the Authorization header must be 'Bearer <key>'";
    d.www_authenticate = "Bearer realm=\"longqa\"";
    return d;
  }
  std::string token = authorization.substr(bearer.size());
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.pop_back();
  const size_t first = token.find_first_not_of(" \t");
  token.erase(0, first == std::string::npos ? token.size() : first);
  const auto digest = sha256(token);
  // Every stored digest is compared, in constant time, so the time taken says nothing
  // about which key (if any) came close.
  int match = -1;
  for (size_t i = 0; i < keys_.size(); ++i) {
    const bool equal = CRYPTO_memcmp(digest.data(), keys_[i].digest.data(), digest.size()) == 0;
    match = equal ? static_cast<int>(i) : match;
  }
  if (match < 0) {
    d.status = 401;
    d.code = "unauthorized";
    d.message = "unknown API key";
    d.www_authenticate = "Bearer realm=\"longqa\", error=\"invalid_token\"";
    return d;
  }
  const ApiKeyEntry& key = keys_[static_cast<size_t>(match)];
  d.key_name = key.name;
  if ((key.scopes & static_cast<uint8_t>(needed)) == 0) {
    d.status = 403;
    d.code = "forbidden";
    d.message = std::string("the key '") + key.name + "' lacks the '" + scope_name(needed) + "' scope";
    d.www_authenticate = std::string("Bearer realm=\"longqa\", error=\"insufficient_scope\", scope=\"") +
                         scope_name(needed) + "\"";
    return d;
  }
  if (rate_ > 0 && charge) {
    std::lock_guard<std::mutex> lock(mutex_);
    Bucket& b = buckets_[static_cast<size_t>(match)];
    const auto now = std::chrono::steady_clock::now();
    const double burst = std::max(1.0, rate_);
    b.tokens = std::min(burst, b.tokens + rate_ * std::chrono::duration<double>(now - b.refilled).count());
    b.refilled = now;
    if (b.tokens < 1.0) {
      d.status = 429;
      d.code = "rate_limited";
      d.retry_after_s = (1.0 - b.tokens) / rate_;
      d.message = std::string("the key '") + key.name + "' is limited to " + std::to_string(rate_) +
                  " requests per second; retry later";
      return d;
    }
    b.tokens -= 1.0;
  }
  return d;
}

}  // namespace longqa::server
