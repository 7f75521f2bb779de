// Python str semantics on code points (see python_text.h).
#include "python_text.h"

#include "longqa/tokenizer.h"

#include <utf8proc.h>

#include <stdexcept>

namespace longqa::eval::detail {
namespace {

bool contains(char32_t c, const char32_t* begin, const char32_t* end) {
  for (const char32_t* p = begin; p != end; ++p)
    if (*p == c) return true;
  return false;
}

}  // namespace

std::u32string decode_utf8(std::string_view text, std::string_view what) {
  std::u32string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n =
        utf8proc_iterate(bytes + pos, static_cast<utf8proc_ssize_t>(text.size() - pos), &cp);
    if (n <= 0)
      throw std::invalid_argument(std::string(what) + ": invalid UTF-8 at byte " + std::to_string(pos));
    out.push_back(static_cast<char32_t>(cp));
    pos += static_cast<size_t>(n);
  }
  return out;
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char32_t c : text) append_utf8(out, c);
  return out;
}

bool py_isspace(char32_t c) {
  // CPython's makeunicodedata.py sets SPACE_MASK for category Zs or bidirectional
  // class WS, B or S; that is how \x1c-\x1f and \x85 count as whitespace.
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(c));
  return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
         p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

bool py_isword(char32_t c) {
  // str.isalnum() is isalpha (L*) or isdecimal/isdigit/isnumeric; every character with
  // a numeric value is in N* or L*, so it is exactly the L* and N* categories.
  if (c == U'_') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

bool py_is_case_ignorable(char32_t c) {
  // DerivedCoreProperties Case_Ignorable: Mn, Me, Cf, Lm, Sk, plus Word_Break
  // MidLetter, MidNumLet and Single_Quote (the list below).
  static constexpr char32_t word_break_extra[] = {
      0x27, 0x2E, 0x3A, 0xB7, 0x387, 0x55F, 0x5F4, 0x2018, 0x2019,
      0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      return contains(c, std::begin(word_break_extra), std::end(word_break_extra));
  }
}

bool py_is_cased(char32_t c) {
  // Cased = Lu, Ll, Lt, Other_Lowercase, Other_Uppercase. The Other_* characters that
  // are not case-ignorable are the ordinal indicators, Roman numerals and circled or
  // squared Latin letters below.
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
      return true;
    default:
      return c == 0xAA || c == 0xBA || (c >= 0x2160 && c <= 0x217F) || (c >= 0x24B6 && c <= 0x24E9) ||
             (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
             (c >= 0x1F170 && c <= 0x1F189);
  }
}

std::u32string py_lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size() + 4);
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == 0x130) {
      // The one unconditional multi-character lowercase mapping in SpecialCasing.txt.
      out += U"i\u0307";
    } else if (c == 0x3A3) {
      // CPython's handle_capital_sigma: final form when a cased letter precedes
      // (skipping case-ignorables) and none follows (skipping case-ignorables).
      size_t j = i;
      while (j > 0 && py_is_case_ignorable(text[j - 1])) --j;
      bool final_sigma = j > 0 && py_is_cased(text[j - 1]);
      if (final_sigma) {
        size_t k = i + 1;
        while (k < text.size() && py_is_case_ignorable(text[k])) ++k;
        final_sigma = k == text.size() || !py_is_cased(text[k]);
      }
      out += final_sigma ? char32_t{0x3C2} : char32_t{0x3C3};
    } else {
      out += static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
    }
  }
  return out;
}

std::vector<std::u32string_view> py_split(std::u32string_view text) {
  std::vector<std::u32string_view> tokens;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && py_isspace(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !py_isspace(text[i])) ++i;
    if (i > start) tokens.push_back(text.substr(start, i - start));
  }
  return tokens;
}

std::u32string_view py_strip(std::u32string_view text) {
  size_t begin = 0, end = text.size();
  while (begin < end && py_isspace(text[begin])) ++begin;
  while (end > begin && py_isspace(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

}  // namespace longqa::eval::detail
