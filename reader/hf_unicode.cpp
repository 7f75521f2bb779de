// The tables behind hf_unicode.h. HF's categories (unicode_categories crate) and NFD
// (unicode-normalization-alignments) predate utf8proc's Unicode version, so their classes come
// from hf_unicode_tables.inc, read off HF itself for every code point; utf8proc gives White_Space,
// the decompositions, the combining classes and lowercase, corrected by the same file where HF's
// differ. tests/test_tokenizer_hf.cpp re-checks every code point of planes 0 and 1 and a sample
// of the rest against HF.
#include "hf_unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstddef>

namespace longqa::tokenization {
namespace {

struct CodeRange {
  char32_t first, last;
};
struct CaseRange {
  char32_t first, last, to;
};

#include "hf_unicode_tables.inc"

template <size_t N>
bool in_ranges(const CodeRange (&ranges)[N], char32_t c) {
  const CodeRange* it = std::upper_bound(ranges, ranges + N, c,
                                         [](char32_t v, const CodeRange& r) { return v < r.first; });
  return it != ranges && c <= (it - 1)->last;
}

// The ASCII part of a table, for answers without a search.
template <size_t N>
constexpr std::array<bool, 0x80> ascii_of(const CodeRange (&ranges)[N]) {
  std::array<bool, 0x80> out{};
  for (const CodeRange& r : ranges)
    for (char32_t c = r.first; c <= r.last && c < 0x80; ++c) out[c] = true;
  return out;
}
constexpr std::array<bool, 0x80> kAsciiRemovedByClean = ascii_of(kRemovedByClean);
constexpr std::array<bool, 0x80> kAsciiPunctuation = ascii_of(kPunctuation);

}  // namespace

// gen_hf_unicode_tables.py checks that HF's whitespace is exactly this.
bool is_whitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  if (c == 0x85) return true;
  const utf8proc_category_t category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return category == UTF8PROC_CATEGORY_ZS || category == UTF8PROC_CATEGORY_ZL || category == UTF8PROC_CATEGORY_ZP;
}

bool is_removed_by_clean(char32_t c) { return c < 0x80 ? kAsciiRemovedByClean[c] : in_ranges(kRemovedByClean, c); }

bool is_punctuation(char32_t c) { return c < 0x80 ? kAsciiPunctuation[c] : in_ranges(kPunctuation, c); }

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool is_nonspacing_mark(char32_t c) { return in_ranges(kNonspacingMarks, c); }

// In the BMP, HF decomposes what utf8proc does (gen_hf_unicode_tables.py checks it); beyond, not
// the decompositions added since its tables.
int decompose(char32_t c, char32_t (&out)[kMaxDecomposition]) {
  out[0] = c;
  if (c >= 0x10000 && !in_ranges(kSupplementaryDecompositions, c)) return 1;
  utf8proc_int32_t parts[kMaxDecomposition];
  int boundclass = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), parts, kMaxDecomposition,
                                                     UTF8PROC_DECOMPOSE, &boundclass);
  if (n <= 0 || n > kMaxDecomposition) return 1;
  for (utf8proc_ssize_t i = 0; i < n; ++i) out[i] = static_cast<char32_t>(parts[i]);
  return static_cast<int>(n);
}

int combining_class(char32_t c) {
  return in_ranges(kCombiningMarks, c) ? utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class : 0;
}

int to_lowercase(char32_t c, char32_t (&out)[2]) {
  if (c < 0x80) {
    out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    return 1;
  }
  if (c == 0x130) {
    out[0] = 'i', out[1] = 0x307;
    return 2;
  }
  for (const CaseRange& r : kLowercaseOverrides) {
    if (c >= r.first && c <= r.last) {
      out[0] = r.to + (c - r.first);
      return 1;
    }
  }
  out[0] = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  return 1;
}

}  // namespace longqa::tokenization
