// Whole-string number parsing for flags, settings and environment variables: nullopt
// unless all of `text` is the number (no trailing junk, no empty string).
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace longqa {

std::optional<int64_t> parse_int64(std::string_view text);
std::optional<double> parse_double(std::string_view text);  // finite values only
// 1/true/yes/on and 0/false/no/off, any case.
std::optional<bool> parse_bool(std::string_view text);

}  // namespace longqa
