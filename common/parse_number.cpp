#include "longqa/common/parse_number.h"

#include <cctype>
#include <cmath>
#include <stdexcept>
#include <string>

namespace longqa {

std::optional<int64_t> parse_int64(std::string_view text) {
  const std::string s(text);
  size_t used = 0;
  try {
    const int64_t v = std::stoll(s, &used);
    if (!s.empty() && used == s.size()) return v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::optional<double> parse_double(std::string_view text) {
  const std::string s(text);
  size_t used = 0;
  try {
    const double v = std::stod(s, &used);
    if (!s.empty() && used == s.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view text) {
  std::string t(text);
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "1" || t == "true" || t == "yes" || t == "on") return true;
  if (t == "0" || t == "false" || t == "no" || t == "off") return false;
  return std::nullopt;
}

}  // namespace longqa
