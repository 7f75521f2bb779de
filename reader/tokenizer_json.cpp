// tokenizer.json pipelines as Hugging Face tokenizers 0.23 runs them (tokenizer/mod.rs
// TokenizerImpl::encode): added tokens split off the raw text, the normalizer on each other
// piece, added tokens matched again in the normalized text, the pre-tokenizer, the model on
// each word, the post-processor. Every string keeps HF's NormalizedString alignments: for each
// byte of the normalized text, the original byte range it stands for, so every token's
// offsets are those HF computes (converted from its char offsets to bytes).
#include "tokenizer_json.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "hf_unicode.h"
#include "longqa/common/errors.h"
#include "longqa/common/utf8.h"
#include "wordpiece.h"

namespace longqa::tokenization {
namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------
// Char classes (utf8proc's Unicode data; HF's regexes use onig's or Rust's).

utf8proc_category_t category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }
bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  const auto k = category(c);
  return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
         k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_LO;
}
bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  const auto k = category(c);
  return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}
bool is_mark(char32_t c) {
  const auto k = category(c);
  return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}
// Rust regex's Unicode \w: Alphabetic, marks, decimal digits, connector punctuation, Join_Control.
bool is_word_char(char32_t c) {
  if (c < 0x80) return is_letter(c) || (c >= '0' && c <= '9') || c == '_';
  if (c == 0x200C || c == 0x200D) return true;
  const auto k = category(c);
  return is_letter(c) || is_mark(c) || k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL ||
         k == UTF8PROC_CATEGORY_PC;
}

// ---------------------------------------------------------------------------------------
// NormalizedString

struct NormStr {
  std::string s;          // normalized text
  std::vector<Span> al;   // per byte of s: the original byte range (absolute)
  int64_t ob = 0, oe = 0; // the original range this string covers
};

struct CharAt {
  char32_t cp;
  size_t pos, len;
};

std::vector<CharAt> chars_of(std::string_view s) {
  std::vector<CharAt> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const Utf8Char c = decode_utf8(s, i);
    out.push_back({c.cp, i, c.length});
    i += c.length;
  }
  return out;
}

NormStr from_original(std::string_view text, int64_t base) {
  NormStr n;
  n.s.assign(text);
  n.al.resize(text.size());
  for (size_t i = 0; i < text.size();) {
    const Utf8Char c = decode_utf8(text, i);
    for (size_t j = 0; j < c.length; ++j)
      n.al[i + j] = {base + static_cast<int64_t>(i), base + static_cast<int64_t>(i + c.length)};
    i += c.length;
  }
  n.ob = base, n.oe = base + static_cast<int64_t>(text.size());
  return n;
}

void push_char(std::string& s, std::vector<Span>& al, char32_t c, Span a) {
  const size_t before = s.size();
  append_utf8(s, c);
  al.insert(al.end(), s.size() - before, a);
}

// NormalizedString::transform over the whole string: dest yields each new char with its change
// (0 replaces the next char, +1 is inserted, -N replaces the next char and removes N more);
// `initial` chars are removed at the start.
using Changes = std::vector<std::pair<char32_t, int>>;
void transform(NormStr& n, const Changes& dest, size_t initial) {
  const std::vector<CharAt> old = chars_of(n.s);
  std::string s;
  std::vector<Span> al;
  s.reserve(n.s.size());
  al.reserve(n.s.size());
  size_t k = initial;
  for (const auto& [c, change] : dest) {
    Span a;
    if (change > 0) {
      a = k >= 1 ? n.al[old[k - 1].pos + old[k - 1].len - 1] : Span{n.ob, n.ob};
    } else {
      a = k < old.size() ? n.al[old[k].pos] : Span{n.oe, n.oe};
      k += 1 + static_cast<size_t>(-change);
    }
    push_char(s, al, c, a);
  }
  n.s = std::move(s);
  n.al = std::move(al);
}

NormStr slice(const NormStr& n, size_t b, size_t e) {
  NormStr out;
  out.s = n.s.substr(b, e - b);
  out.al.assign(n.al.begin() + static_cast<std::ptrdiff_t>(b), n.al.begin() + static_cast<std::ptrdiff_t>(e));
  if (b < e) out.ob = n.al[b].begin, out.oe = n.al[e - 1].end;
  else out.ob = out.oe = n.ob;
  return out;
}

void prepend(NormStr& n, const std::string& prefix) {
  if (n.s.empty() || prefix.empty()) return;
  const Utf8Char first = decode_utf8(n.s, 0);
  const Span a0 = n.al[0], a1 = n.al[first.length - 1];
  std::string s;
  std::vector<Span> al;
  bool at_first = true;
  for (const CharAt& c : chars_of(prefix)) {
    push_char(s, al, c.cp, at_first ? a0 : a1);
    at_first = false;
  }
  s.append(n.s, 0, first.length);
  al.insert(al.end(), first.length, a1);
  s.append(n.s, first.length, std::string::npos);
  al.insert(al.end(), n.al.begin() + first.length, n.al.end());
  n.s = std::move(s);
  n.al = std::move(al);
}

void append(NormStr& n, const std::string& suffix) {
  if (n.s.empty()) return;
  const Span last = n.al.back();
  for (const CharAt& c : chars_of(suffix)) push_char(n.s, n.al, c.cp, last);
}

// Matches covering the whole string: (begin, end, is_match).
struct Match {
  size_t b, e;
  bool is_match;
};
using Matches = std::vector<Match>;

// Each char for which pred holds is a match of its own (HF's Pattern for Fn(char) -> bool).
Matches char_matches(std::string_view s, const std::function<bool(char32_t)>& pred) {
  Matches out;
  size_t last = 0;
  for (const CharAt& c : chars_of(s)) {
    if (pred(c.cp)) {
      if (last < c.pos) out.push_back({last, c.pos, false});
      out.push_back({c.pos, c.pos + c.len, true});
      last = c.pos + c.len;
    }
  }
  if (last < s.size()) out.push_back({last, s.size(), false});
  return out;
}

Matches string_matches(std::string_view s, std::string_view pattern) {
  if (pattern.empty()) return {{0, s.size(), false}};
  Matches out;
  size_t last = 0;
  for (size_t at = s.find(pattern); at != std::string_view::npos; at = s.find(pattern, at + pattern.size())) {
    if (last < at) out.push_back({last, at, false});
    out.push_back({at, at + pattern.size(), true});
    last = at + pattern.size();
  }
  if (last < s.size()) out.push_back({last, s.size(), false});
  return out;
}

// A Replace or Split pattern: a String, or a Regex that means the same over UTF-8 bytes as over characters
// (ASCII only, no '.', negated classes or \s \w \d \b \p: see regex_is_byte_safe), run with std::regex.
struct Pattern {
  std::string literal;
  std::shared_ptr<const std::regex> regex;  // set for Regex patterns
};

Matches with_gaps(std::string_view s, const std::vector<std::pair<size_t, size_t>>& found);

Matches pattern_matches(std::string_view s, const Pattern& p) {
  if (!p.regex) return string_matches(s, p.literal);
  std::vector<std::pair<size_t, size_t>> found;
  for (std::cregex_iterator it(s.data(), s.data() + s.size(), *p.regex), end; it != end; ++it) {
    const auto b = static_cast<size_t>(it->position()), e = b + static_cast<size_t>(it->length());
    if (e > b) found.emplace_back(b, e);  // empty matches split nothing
  }
  return with_gaps(s, found);
}

// Matches from a list of match ranges (a regex's find_iter).
Matches with_gaps(std::string_view s, const std::vector<std::pair<size_t, size_t>>& found) {
  Matches out;
  size_t last = 0;
  for (const auto& [b, e] : found) {
    if (last < b) out.push_back({last, b, false});
    out.push_back({b, e, true});
    last = e;
  }
  if (last < s.size()) out.push_back({last, s.size(), false});
  if (s.empty()) out.push_back({0, 0, false});
  return out;
}

// GPT-2's 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+, by hand.
Matches gpt2_matches(std::string_view s) {
  const std::vector<CharAt> cs = chars_of(s);
  std::vector<std::pair<size_t, size_t>> found;
  const size_t n = cs.size();
  const auto end_of = [&](size_t i) { return i < n ? cs[i].pos : s.size(); };
  const auto other = [](char32_t c) { return !is_whitespace(c) && !is_letter(c) && !is_number(c); };
  for (size_t i = 0; i < n;) {
    const char32_t c = cs[i].cp;
    size_t j = i;
    if (c == '\'' && i + 1 < n) {
      const char32_t d = cs[i + 1].cp;
      if (d == 's' || d == 't' || d == 'm' || d == 'd') j = i + 2;
      else if (i + 2 < n && ((d == 'r' && cs[i + 2].cp == 'e') || (d == 'v' && cs[i + 2].cp == 'e') ||
                             (d == 'l' && cs[i + 2].cp == 'l')))
        j = i + 3;
    }
    if (j == i) {
      const size_t k = (c == ' ' && i + 1 < n) ? i + 1 : i;
      for (const auto& cls : {std::function<bool(char32_t)>(is_letter), std::function<bool(char32_t)>(is_number),
                              std::function<bool(char32_t)>(other)}) {
        if (k < n && cls(cs[k].cp)) {
          j = k;
          while (j < n && cls(cs[j].cp)) ++j;
          break;
        }
      }
    }
    if (j == i && is_whitespace(c)) {
      size_t r = i;
      while (r < n && is_whitespace(cs[r].cp)) ++r;
      // \s+(?!\S): the run up to its end, or all but its last char before a non-space.
      if (r == n) j = r;
      else if (r - i >= 2) j = r - 1;
      else j = r;  // \s+
    }
    if (j == i) j = i + 1;  // cannot happen: every char is in one class
    found.push_back({cs[i].pos, end_of(j)});
    i = j;
  }
  return with_gaps(s, found);
}

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior behavior_of(const std::string& name, const std::string& path) {
  if (name == "Removed") return Behavior::Removed;
  if (name == "Isolated") return Behavior::Isolated;
  if (name == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::MergedWithNext;
  if (name == "Contiguous") return Behavior::Contiguous;
  throw std::invalid_argument(path + ": unsupported split behavior \"" + name + "\" (field pre_tokenizer.behavior)");
}

// NormalizedString::split, empty pieces dropped (as PreTokenizedString::split does).
void split(const NormStr& n, Matches matches, Behavior behavior, std::vector<NormStr>& out) {
  struct Part {
    size_t b, e;
    bool remove;
  };
  std::vector<Part> parts;
  bool previous = false;
  switch (behavior) {
    case Behavior::Isolated:
      for (const Match& m : matches) parts.push_back({m.b, m.e, false});
      break;
    case Behavior::Removed:
      for (const Match& m : matches) parts.push_back({m.b, m.e, m.is_match});
      break;
    case Behavior::Contiguous:
      for (const Match& m : matches) {
        if (m.is_match == previous && !parts.empty()) parts.back().e = m.e;
        else parts.push_back({m.b, m.e, false});
        previous = m.is_match;
      }
      break;
    case Behavior::MergedWithPrevious:
      for (const Match& m : matches) {
        if (m.is_match && !previous && !parts.empty()) parts.back().e = m.e;
        else parts.push_back({m.b, m.e, false});
        previous = m.is_match;
      }
      break;
    case Behavior::MergedWithNext:
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        if (it->is_match && !previous && !parts.empty()) parts.back().b = it->b;
        else parts.push_back({it->b, it->e, false});
        previous = it->is_match;
      }
      std::reverse(parts.begin(), parts.end());
      break;
  }
  for (const Part& p : parts)
    if (!p.remove && p.b < p.e) out.push_back(slice(n, p.b, p.e));
}

// ---------------------------------------------------------------------------------------
// Unicode normalization forms with HF's alignments (unicode-normalization-alignments): the
// decomposed forms char by char (first part replaces, the others are inserted; marks put in
// canonical order while the changes stay in place); the composed forms segment by segment
// (a starter and what composes with it), the first outputs replacing its chars one by one and
// the last absorbing the rest.

std::vector<char32_t> utf8proc_run(const std::vector<char32_t>& in, int options) {
  std::vector<utf8proc_int32_t> buf(in.size() * 18 + 8);
  utf8proc_ssize_t n = 0;
  for (char32_t c : in) {
    int boundclass = 0;
    const utf8proc_ssize_t k = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf.data() + n,
                                                       static_cast<utf8proc_ssize_t>(buf.size()) - n,
                                                       static_cast<utf8proc_option_t>(options), &boundclass);
    if (k < 0) throw std::runtime_error("utf8proc decomposition failed");
    n += k;
  }
  std::vector<char32_t> out;
  if (options & UTF8PROC_COMPOSE) {
    // Canonical order then composition, as utf8proc_normalize_utf32 does.
    n = utf8proc_normalize_utf32(buf.data(), n, static_cast<utf8proc_option_t>(options));
    if (n < 0) throw std::runtime_error("utf8proc normalization failed");
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(static_cast<char32_t>(buf[i]));
  return out;
}

int ccc(char32_t c) { return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class; }

void unicode_normalize(NormStr& n, bool compat, bool compose) {
  const std::vector<CharAt> cs = chars_of(n.s);
  Changes dest;
  const int decompose_options = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
  if (!compose) {
    size_t run_start = 0;  // start of the current run of non-starters in dest
    for (const CharAt& c : cs) {
      const std::vector<char32_t> parts = utf8proc_run({c.cp}, decompose_options);
      for (size_t i = 0; i < parts.size(); ++i) {
        if (ccc(parts[i]) == 0) run_start = dest.size() + 1;
        dest.push_back({parts[i], i > 0 ? 1 : 0});
      }
      // Stable sort of the trailing marks by combining class, changes staying in place.
      if (run_start > dest.size()) run_start = dest.size();
      std::vector<char32_t> marks;
      for (size_t i = run_start; i < dest.size(); ++i) marks.push_back(dest[i].first);
      std::stable_sort(marks.begin(), marks.end(), [](char32_t a, char32_t b) { return ccc(a) < ccc(b); });
      for (size_t i = run_start; i < dest.size(); ++i) dest[i].first = marks[i - run_start];
    }
    transform(n, dest, 0);
    return;
  }
  const int options = decompose_options | UTF8PROC_COMPOSE | UTF8PROC_STABLE;
  size_t i = 0;
  while (i < cs.size()) {
    // A segment: chars up to the next one whose decomposition starts with a starter and that
    // does not compose with what comes before (checked by normalizing both ways).
    size_t j = i + 1;
    std::vector<char32_t> seg = {cs[i].cp};
    std::vector<char32_t> out = utf8proc_run(seg, options);
    while (j < cs.size()) {
      const char32_t c = cs[j].cp;
      if (c < 0x80 && cs[j - 1].cp < 0x80) break;
      std::vector<char32_t> longer = seg;
      longer.push_back(c);
      std::vector<char32_t> joined = utf8proc_run(longer, options);
      std::vector<char32_t> apart = out;
      const std::vector<char32_t> alone = utf8proc_run({c}, options);
      apart.insert(apart.end(), alone.begin(), alone.end());
      const std::vector<char32_t> first_part = utf8proc_run({c}, decompose_options);
      if (joined == apart && !first_part.empty() && ccc(first_part[0]) == 0) break;
      seg = std::move(longer);
      out = std::move(joined);
      ++j;
    }
    // Each output char takes the input chars whose decompositions make up its own: it replaces
    // the first and removes the others; one made of what earlier chars brought is inserted.
    size_t cover = 0, next = 0;
    const size_t start = dest.size();
    for (const char32_t o : out) {
      const size_t need = utf8proc_run({o}, decompose_options).size();
      int taken = 0;
      while (cover < need && next < seg.size()) cover += utf8proc_run({seg[next++]}, decompose_options).size(), ++taken;
      cover = cover > need ? cover - need : 0;
      dest.push_back({o, taken == 0 ? 1 : -(taken - 1)});
    }
    if (next < seg.size() && dest.size() > start) dest.back().second -= static_cast<int>(seg.size() - next);
    i = j;
  }
  transform(n, dest, 0);
}

// ---------------------------------------------------------------------------------------
// Normalizers

struct Normalizer {
  virtual ~Normalizer() = default;
  virtual void normalize(NormStr& n) const = 0;
};

struct UnicodeNormalizer : Normalizer {
  bool compat, compose;
  UnicodeNormalizer(bool k, bool c) : compat(k), compose(c) {}
  void normalize(NormStr& n) const override { unicode_normalize(n, compat, compose); }
};

struct LowercaseNormalizer : Normalizer {
  void normalize(NormStr& n) const override {
    Changes dest;
    for (const CharAt& c : chars_of(n.s)) {
      char32_t lower[2];
      const int k = to_lowercase(c.cp, lower);
      for (int i = 0; i < k; ++i) dest.push_back({lower[i], i > 0 ? 1 : 0});
    }
    transform(n, dest, 0);
  }
};

void filter(NormStr& n, const std::function<bool(char32_t)>& keep) {
  Changes dest;
  int removed = 0;
  size_t removed_start = 0;
  std::optional<char32_t> last;
  for (const CharAt& c : chars_of(n.s)) {
    if (keep(c.cp)) {
      if (last) dest.push_back({*last, -removed});
      else removed_start = static_cast<size_t>(removed);
      last = c.cp;
      removed = 0;
    } else {
      ++removed;
    }
  }
  if (last) dest.push_back({*last, -removed});
  transform(n, dest, removed_start);
}

void strip(NormStr& n, bool left, bool right) {
  const std::vector<CharAt> cs = chars_of(n.s);
  size_t lead = 0, trail = 0;
  if (left)
    while (lead < cs.size() && is_whitespace(cs[lead].cp)) ++lead;
  if (right)
    while (trail < cs.size() - lead && is_whitespace(cs[cs.size() - 1 - trail].cp)) ++trail;
  if (lead == 0 && trail == 0) return;
  Changes dest;
  for (size_t i = lead; i + trail < cs.size(); ++i)
    dest.push_back({cs[i].cp, i + trail + 1 == cs.size() ? -static_cast<int>(trail) : 0});
  transform(n, dest, lead);
}

struct StripNormalizer : Normalizer {
  bool left, right;
  StripNormalizer(bool l, bool r) : left(l), right(r) {}
  void normalize(NormStr& n) const override { strip(n, left, right); }
};

struct StripAccentsNormalizer : Normalizer {
  void normalize(NormStr& n) const override { filter(n, [](char32_t c) { return !is_mark(c); }); }
};

// NormalizedString::replace with a string pattern: each new char takes the range of the last
// byte of the match.
void replace(NormStr& n, const Pattern& pattern, const std::string& content) {
  const Matches ms = pattern_matches(n.s, pattern);
  std::string s;
  std::vector<Span> al;
  const std::vector<CharAt> repl = chars_of(content);
  for (const Match& m : ms) {
    if (!m.is_match) {
      s.append(n.s, m.b, m.e - m.b);
      al.insert(al.end(), n.al.begin() + m.b, n.al.begin() + m.e);
    } else {
      for (const CharAt& c : repl) push_char(s, al, c.cp, n.al[m.e - 1]);
    }
  }
  n.s = std::move(s);
  n.al = std::move(al);
}

struct ReplaceNormalizer : Normalizer {
  Pattern pattern;
  std::string content;
  void normalize(NormStr& n) const override { replace(n, pattern, content); }
};

struct PrependNormalizer : Normalizer {
  std::string prefix;
  void normalize(NormStr& n) const override { prepend(n, prefix); }
};

struct BertNormalizerStep : Normalizer {
  bool clean_text = true, chinese = true, lowercase = true;
  int strip_accents = -1;
  void normalize(NormStr& n) const override {
    if (clean_text) {
      filter(n, [](char32_t c) { return !is_removed_by_clean(c); });
      Changes dest;
      for (const CharAt& c : chars_of(n.s)) dest.push_back({is_whitespace(c.cp) ? U' ' : c.cp, 0});
      transform(n, dest, 0);
    }
    if (chinese) {
      Changes dest;
      for (const CharAt& c : chars_of(n.s)) {
        if (is_chinese_char(c.cp)) {
          dest.push_back({U' ', 0});
          dest.push_back({c.cp, 1});
          dest.push_back({U' ', 1});
        } else {
          dest.push_back({c.cp, 0});
        }
      }
      transform(n, dest, 0);
    }
    if (strip_accents < 0 ? lowercase : strip_accents > 0) {
      unicode_normalize(n, false, false);
      filter(n, [](char32_t c) { return !is_nonspacing_mark(c); });
    }
    if (lowercase) LowercaseNormalizer().normalize(n);
  }
};

// SentencePiece's precompiled_charsmap as tokenizers (spm_precompiled) reads it: a u32 byte size
// of a darts-clone double-array trie, the trie's u32 units, then the replacement strings, each
// ending in '\0', that the trie's values point into. Each grapheme (under 6 bytes) is replaced
// by what its first (shortest) prefix in the trie maps to, else each of its chars is.
struct PrecompiledNormalizer : Normalizer {
  std::vector<uint32_t> trie;
  std::string normalized;

  std::optional<std::string_view> lookup(std::string_view chunk) const {
    if (trie.empty()) return std::nullopt;
    const auto offset = [](uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); };
    size_t pos = 0;
    uint32_t unit = trie[0];
    pos ^= offset(unit);
    for (unsigned char c : chunk) {
      if (c == 0) break;
      pos ^= c;
      if (pos >= trie.size()) return std::nullopt;
      unit = trie[pos];
      if ((unit & ((1u << 31) | 0xFFu)) != c) return std::nullopt;
      pos ^= offset(unit);
      if ((unit >> 8) & 1) {
        if (pos >= trie.size()) return std::nullopt;
        const size_t index = trie[pos] & ((1u << 31) - 1);
        if (index > normalized.size()) return std::nullopt;
        const size_t end = normalized.find('\0', index);
        return std::string_view(normalized).substr(index, (end == std::string::npos ? normalized.size() : end) - index);
      }
    }
    return std::nullopt;
  }

  static void replace_part(Changes& dest, std::string_view old_part, std::string_view new_part) {
    const auto old_count = static_cast<int>(chars_of(old_part).size());
    const std::vector<CharAt> added = chars_of(new_part);
    const int diff = static_cast<int>(added.size()) - old_count;
    for (const CharAt& c : added) dest.push_back({c.cp, 0});
    if (diff > 0) {
      for (size_t i = 0; i < static_cast<size_t>(diff) && i < dest.size(); ++i) dest[dest.size() - 1 - i].second = 1;
    } else if (diff < 0 && !dest.empty()) {
      dest.back().second += diff;
    }
  }

  void normalize(NormStr& n) const override {
    const std::vector<CharAt> cs = chars_of(n.s);
    Changes dest;
    bool modified = false;
    utf8proc_int32_t state = 0;
    for (size_t i = 0; i < cs.size();) {
      size_t j = i + 1;
      state = 0;
      while (j < cs.size() && !utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(cs[j - 1].cp),
                                                                static_cast<utf8proc_int32_t>(cs[j].cp), &state))
        ++j;
      const size_t b = cs[i].pos, e = j < cs.size() ? cs[j].pos : n.s.size();
      const std::string_view grapheme = std::string_view(n.s).substr(b, e - b);
      if (grapheme.size() < 6) {
        if (const auto norm = lookup(grapheme)) {
          modified = true;
          replace_part(dest, grapheme, *norm);
          i = j;
          continue;
        }
      }
      for (size_t k = i; k < j; ++k) {
        const std::string_view part = std::string_view(n.s).substr(cs[k].pos, cs[k].len);
        if (const auto norm = lookup(part)) {
          modified = true;
          replace_part(dest, part, *norm);
        } else {
          dest.push_back({cs[k].cp, 0});
        }
      }
      i = j;
    }
    if (modified) transform(n, dest, 0);
  }
};

std::string base64_decode(const std::string& in, const std::string& path) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char ch : in) {
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '+') v = 62;
    else if (ch == '/') v = 63;
    else if (ch == '=' || ch == '\n' || ch == '\r') continue;
    else throw FileFormatError(path, "precompiled_charsmap is not base64 (field normalizer.precompiled_charsmap)");
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

struct SequenceNormalizer : Normalizer {
  std::vector<std::unique_ptr<Normalizer>> steps;
  void normalize(NormStr& n) const override {
    for (const auto& s : steps) s->normalize(n);
  }
};

// ---------------------------------------------------------------------------------------
// Pre-tokenizers: each piece into pieces.

struct PreTokenizer {
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(std::vector<NormStr>& pieces) const = 0;
};

// GPT-2's byte <-> unicode map.
const std::array<char32_t, 256>& bytes_char() {
  static const std::array<char32_t, 256> map = [] {
    std::array<char32_t, 256> m{};
    std::array<bool, 256> direct{};
    for (int b = '!'; b <= '~'; ++b) direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) m[b] = direct[b] ? static_cast<char32_t>(b) : next++;
    return m;
  }();
  return map;
}

template <typename F>
void split_each(std::vector<NormStr>& pieces, F&& f) {
  std::vector<NormStr> out;
  out.reserve(pieces.size());
  for (NormStr& p : pieces) f(p, out);
  pieces = std::move(out);
}

struct ByteLevelPre : PreTokenizer {
  bool add_prefix_space = true, use_regex = true;
  void pre_tokenize(std::vector<NormStr>& pieces) const override {
    split_each(pieces, [&](NormStr& n, std::vector<NormStr>& out) {
      if (add_prefix_space && (n.s.empty() || n.s[0] != ' ')) prepend(n, " ");
      if (use_regex) split(n, gpt2_matches(n.s), Behavior::Isolated, out);
      else if (!n.s.empty()) out.push_back(std::move(n));
    });
    const auto& map = bytes_char();
    for (NormStr& n : pieces) {
      Changes dest;
      for (const CharAt& c : chars_of(n.s))
        for (size_t i = 0; i < c.len; ++i) dest.push_back({map[static_cast<unsigned char>(n.s[c.pos + i])], i > 0});
      transform(n, dest, 0);
    }
  }
};

struct MetaspacePre : PreTokenizer {
  std::string replacement = "\u2581";
  char32_t replacement_char = 0x2581;
  std::string scheme = "always";
  bool split_words = true;
  void pre_tokenize(std::vector<NormStr>& pieces) const override {
    split_each(pieces, [&](NormStr& n, std::vector<NormStr>& out) {
      replace(n, Pattern{" ", nullptr}, replacement);
      const bool starts = n.s.compare(0, replacement.size(), replacement) == 0;
      if (scheme == "always" && !starts) prepend(n, replacement);
      if (scheme == "first" && !starts && n.ob == 0) prepend(n, replacement);
      if (split_words) {
        const char32_t r = replacement_char;
        split(n, char_matches(n.s, [r](char32_t c) { return c == r; }), Behavior::MergedWithNext, out);
      } else if (!n.s.empty()) {
        out.push_back(std::move(n));
      }
    });
  }
};

struct WhitespacePre : PreTokenizer {
  void pre_tokenize(std::vector<NormStr>& pieces) const override {
    split_each(pieces, [&](NormStr& n, std::vector<NormStr>& out) {
      // \w+|[^\w\s]+, the matches kept.
      const std::vector<CharAt> cs = chars_of(n.s);
      std::vector<std::pair<size_t, size_t>> found;
      for (size_t i = 0; i < cs.size();) {
        const auto cls = [](char32_t c) { return is_word_char(c) ? 1 : is_whitespace(c) ? 0 : 2; };
        const int k = cls(cs[i].cp);
        size_t j = i + 1;
        if (k != 0)
          while (j < cs.size() && cls(cs[j].cp) == k) ++j;
        if (k != 0) found.push_back({cs[i].pos, j < cs.size() ? cs[j].pos : n.s.size()});
        i = j;
      }
      Matches ms = with_gaps(n.s, found);
      for (Match& m : ms) m.is_match = !m.is_match;
      split(n, ms, Behavior::Removed, out);
    });
  }
};

struct WhitespaceSplitPre : PreTokenizer {
  void pre_tokenize(std::vector<NormStr>& pieces) const override {
    split_each(pieces, [&](NormStr& n, std::vector<NormStr>& out) {
      split(n, char_matches(n.s, is_whitespace), Behavior::Removed, out);
    });
  }
};

struct BertPre : PreTokenizer {
  void pre_tokenize(std::vector<NormStr>& pieces) const override {
    split_each(pieces, [&](NormStr& n, std::vector<NormStr>& out) {
      split(n, char_matches(n.s, is_whitespace), Behavior::Removed, out);
    });
    split_each(pieces, [&](NormStr& n, std::vector<NormStr>& out) {
      split(n, char_matches(n.s, is_punctuation), Behavior::Isolated, out);
    });
  }
};

struct SplitPre : PreTokenizer {
  Pattern pattern;
  bool gpt2 = false;  // the pattern is GPT-2's regex
  Behavior behavior = Behavior::Isolated;
  bool invert = false;
  void pre_tokenize(std::vector<NormStr>& pieces) const override {
    split_each(pieces, [&](NormStr& n, std::vector<NormStr>& out) {
      Matches ms = gpt2 ? gpt2_matches(n.s) : pattern_matches(n.s, pattern);
      if (invert)
        for (Match& m : ms) m.is_match = !m.is_match;
      split(n, ms, behavior, out);
    });
  }
};

struct SequencePre : PreTokenizer {
  std::vector<std::unique_ptr<PreTokenizer>> steps;
  void pre_tokenize(std::vector<NormStr>& pieces) const override {
    for (const auto& s : steps) s->pre_tokenize(pieces);
  }
};

// ---------------------------------------------------------------------------------------
// Models: a word (normalized) into tokens with normalized byte offsets in the word.

struct ModelToken {
  int32_t id;
  std::string value;
  size_t b, e;
};

struct Model {
  virtual ~Model() = default;
  virtual void tokenize(const std::string& word, std::vector<ModelToken>& out) const = 0;
};

struct BpeModel : Model {
  const std::unordered_map<std::string, int32_t>* vocab = nullptr;
  const std::vector<std::string>* vocab_r = nullptr;
  struct PairHash {
    size_t operator()(uint64_t v) const { return std::hash<uint64_t>()(v); }
  };
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;  // (a, b) -> (rank, new id)
  std::optional<std::string> unk_token, prefix, suffix;
  bool byte_fallback = false, fuse_unk = false, ignore_merges = false;

  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  int32_t find(const std::string& s) const {
    const auto it = vocab->find(s);
    return it == vocab->end() ? -1 : it->second;
  }

  void tokenize(const std::string& w, std::vector<ModelToken>& out) const override {
    if (w.empty()) return;
    if (ignore_merges) {
      const int32_t id = find(w);
      if (id >= 0) {
        out.push_back({id, w, 0, w.size()});
        return;
      }
    }
    struct Symbol {
      int32_t c;
      int prev, next;
      size_t len;
    };
    std::vector<Symbol> symbols;
    std::optional<std::pair<int32_t, size_t>> unk;
    const auto add = [&](int32_t id, size_t len) {
      const int n = static_cast<int>(symbols.size());
      symbols.push_back({id, n - 1, n + 1, len});
    };
    const std::vector<CharAt> cs = chars_of(w);
    for (size_t i = 0; i < cs.size(); ++i) {
      std::string s = w.substr(cs[i].pos, cs[i].len);
      const size_t byte_len = s.size();
      if (i > 0 && prefix) s = *prefix + s;
      if (i + 1 == cs.size() && suffix) s += *suffix;
      const int32_t id = find(s);
      if (id >= 0) {
        if (unk) add(unk->first, unk->second), unk.reset();
        add(id, byte_len);
        continue;
      }
      if (byte_fallback) {
        std::vector<int32_t> bytes;
        for (unsigned char b : s) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", b);
          const int32_t bid = find(name);
          if (bid < 0) {
            bytes.clear();
            break;
          }
          bytes.push_back(bid);
        }
        if (!bytes.empty()) {
          // (HF does not flush a pending unk here.)
          for (int32_t b : bytes) add(b, 1);
          continue;
        }
      }
      if (unk_token) {
        const int32_t uid = find(*unk_token);
        if (uid < 0) throw std::invalid_argument("BPE unk_token \"" + *unk_token + "\" is not in the vocabulary");
        if (unk && fuse_unk) unk->second += byte_len;
        else {
          if (unk) add(unk->first, unk->second);
          unk = std::make_pair(uid, byte_len);
        }
      }
    }
    if (unk) add(unk->first, unk->second);
    if (!symbols.empty()) symbols.back().next = -1;

    struct Merge {
      size_t pos;
      int32_t rank, new_id;
      bool operator<(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Merge> queue;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = merges.find(key(symbols[i].c, symbols[i + 1].c));
      if (it != merges.end()) queue.push({i, it->second.first, it->second.second});
    }
    while (!queue.empty()) {
      const Merge top = queue.top();
      queue.pop();
      Symbol& cur = symbols[top.pos];
      if (cur.len == 0 || cur.next == -1) continue;
      const size_t next_pos = static_cast<size_t>(cur.next);
      const Symbol right = symbols[next_pos];
      const auto it = merges.find(key(cur.c, right.c));
      if (it == merges.end() || it->second.second != top.new_id) continue;
      cur.c = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      symbols[next_pos].len = 0;
      if (right.next > -1 && static_cast<size_t>(right.next) < symbols.size())
        symbols[static_cast<size_t>(right.next)].prev = static_cast<int>(top.pos);
      if (cur.prev >= 0) {
        const auto p = merges.find(key(symbols[static_cast<size_t>(cur.prev)].c, cur.c));
        if (p != merges.end()) queue.push({static_cast<size_t>(cur.prev), p->second.first, p->second.second});
      }
      if (cur.next >= 0 && static_cast<size_t>(cur.next) < symbols.size()) {
        const auto q = merges.find(key(cur.c, symbols[static_cast<size_t>(cur.next)].c));
        if (q != merges.end()) queue.push({top.pos, q->second.first, q->second.second});
      }
    }
    size_t offset = 0;
    for (const Symbol& s : symbols) {
      if (s.len == 0) continue;
      out.push_back({s.c, (*vocab_r)[static_cast<size_t>(s.c)], offset, offset + s.len});
      offset += s.len;
    }
  }
};

struct UnigramModel : Model {
  std::vector<std::pair<std::string, double>> pieces;
  std::unordered_map<std::string, int32_t> ids;
  std::optional<int32_t> unk_id;
  bool byte_fallback = false, fuse_unk = true;
  double min_score = 0;
  size_t max_piece_bytes = 0;

  void tokenize(const std::string& s, std::vector<ModelToken>& out) const override {
    if (s.empty()) return;
    struct Node {
      int32_t id = 0;
      double score = 0;
      std::optional<size_t> starts_at;
    };
    const double unk_score = min_score - 10.0;
    const size_t size = s.size();
    std::vector<Node> best(size + 1);
    std::string key;
    for (size_t at = 0; at < size;) {
      const double here = best[at].score;
      bool single = false;
      const size_t mblen = decode_utf8(s, at).length;
      // Common prefixes in order of length, as the trie yields them.
      for (size_t e = at; e < size && e - at < max_piece_bytes;) {
        e += decode_utf8(s, e).length;
        if (e - at > max_piece_bytes) break;
        key.assign(s, at, e - at);
        const auto it = ids.find(key);
        if (it == ids.end()) continue;
        Node& target = best[e];
        const double candidate = pieces[static_cast<size_t>(it->second)].second + here;
        if (!target.starts_at || candidate > target.score) {
          target.score = candidate;
          target.starts_at = at;
          target.id = it->second;
        }
        if (e - at == mblen) single = true;
      }
      if (!single) {
        if (!unk_id) throw std::invalid_argument("Unigram model without unk_id meets an unknown char");
        Node& target = best[at + mblen];
        const double candidate = unk_score + here;
        if (!target.starts_at || candidate > target.score) {
          target.score = candidate;
          target.starts_at = at;
          target.id = *unk_id;
        }
      }
      at += mblen;
    }
    std::vector<std::pair<size_t, size_t>> ranges;  // reversed
    std::optional<std::pair<size_t, size_t>> fused;
    for (size_t end = size; end > 0;) {
      const Node& node = best[end];
      const size_t start = *node.starts_at;
      if (fuse_unk && unk_id && node.id == *unk_id) {
        fused = fused ? std::make_pair(start, fused->second) : std::make_pair(start, end);
      } else {
        if (fused) ranges.push_back(*fused), fused.reset();
        ranges.push_back({start, end});
      }
      end = start;
    }
    if (fused) ranges.push_back(*fused);
    std::reverse(ranges.begin(), ranges.end());
    for (const auto& [b, e] : ranges) {
      std::string piece = s.substr(b, e - b);
      const auto it = ids.find(piece);
      if (it != ids.end()) {
        out.push_back({it->second, std::move(piece), b, e});
        continue;
      }
      if (byte_fallback) {
        std::vector<ModelToken> bytes;
        for (unsigned char c : piece) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", c);
          const auto bit = ids.find(name);
          if (bit == ids.end()) {
            bytes.clear();
            break;
          }
          bytes.push_back({bit->second, name, b, e});
        }
        if (!bytes.empty()) {
          out.insert(out.end(), bytes.begin(), bytes.end());
          continue;
        }
      }
      if (!unk_id) throw std::invalid_argument("Unigram model without unk_id meets an unknown piece");
      out.push_back({*unk_id, std::move(piece), b, e});
    }
  }
};

struct WordPieceJsonModel : Model {
  const std::unordered_map<std::string, int32_t>* vocab = nullptr;
  TokenizerOptions options;
  int32_t unk_id = -1;
  size_t max_token_bytes = 0;
  void tokenize(const std::string& w, std::vector<ModelToken>& out) const override {
    std::vector<NormChar> word;
    for (const CharAt& c : chars_of(w))
      word.push_back({c.cp, {static_cast<int64_t>(c.pos), static_cast<int64_t>(c.pos + c.len)}});
    std::vector<Token> tokens;
    const WordPieceModel model{*vocab, options, unk_id, max_token_bytes};
    WordPiece(model, tokens).encode(word);
    for (Token& t : tokens)
      out.push_back({t.id, std::move(t.text), static_cast<size_t>(t.begin), static_cast<size_t>(t.end)});
  }
};

// ---------------------------------------------------------------------------------------
// Post-processors

struct Enc {
  std::vector<Token> tokens;
  std::vector<int32_t> type_ids, seq;
  std::string_view texts[2];  // the text of each sequence, for trimming in chars
};

// The byte offset `n` chars after (n > 0) or before (n < 0) byte offset `at` of text, clamped.
int64_t move_chars(std::string_view text, int64_t at, int64_t n) {
  for (; n > 0 && at < static_cast<int64_t>(text.size()); --n) {
    ++at;
    while (at < static_cast<int64_t>(text.size()) && !is_char_boundary(text, at)) ++at;
  }
  for (; n < 0 && at > 0; ++n) {
    --at;
    while (at > 0 && !is_char_boundary(text, at)) --at;
  }
  return at;
}

void trim_offsets(Enc& e, bool add_prefix_space) {
  const char32_t space = bytes_char()[' '];
  for (size_t i = 0; i < e.tokens.size(); ++i) {
    Token& t = e.tokens[i];
    const std::vector<CharAt> cs = chars_of(t.text);
    size_t lead = 0, trail = 0;
    const auto ws = [&](char32_t c) { return c == space || is_whitespace(c); };
    while (lead < cs.size() && ws(cs[lead].cp)) ++lead;
    while (trail < cs.size() && ws(cs[cs.size() - 1 - trail].cp)) ++trail;
    // HF trims its char offsets: move by chars of the original text.
    const std::string_view text = e.texts[e.seq[i] == 1 ? 1 : 0];
    if (lead > 0) {
      const bool is_first = i == 0 || t.begin == 0;
      if (is_first && add_prefix_space && lead == 1) lead = 0;
      t.begin = std::min(move_chars(text, t.begin, static_cast<int64_t>(lead)), t.end);
    }
    if (trail > 0) {
      // offsets.1 >= trailing_spaces, in chars.
      int64_t chars_before = 0;
      for (int64_t at = t.end; at > 0 && chars_before < static_cast<int64_t>(trail); ++chars_before)
        at = move_chars(text, at, -1);
      if (chars_before >= static_cast<int64_t>(trail))
        t.end = std::max(move_chars(text, t.end, -static_cast<int64_t>(trail)), t.begin);
    }
  }
}

struct SpecialSeq {
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
};

struct PostProcessor {
  virtual ~PostProcessor() = default;
  virtual std::vector<Enc> process(std::vector<Enc> encs, bool add_special) const = 0;
};

void add_special(Enc& out, const SpecialSeq& s, int32_t type_id) {
  for (size_t i = 0; i < s.ids.size(); ++i) {
    out.tokens.push_back({s.ids[i], s.tokens[i], 0, 0});
    out.type_ids.push_back(type_id);
    out.seq.push_back(-1);
  }
}
void add_sequence(Enc& out, const Enc& e, std::optional<int32_t> type_id) {
  for (int k = 0; k < 2; ++k)
    if (!e.texts[k].empty()) out.texts[k] = e.texts[k];
  out.tokens.insert(out.tokens.end(), e.tokens.begin(), e.tokens.end());
  for (size_t i = 0; i < e.tokens.size(); ++i) out.type_ids.push_back(type_id ? *type_id : e.type_ids[i]);
  out.seq.insert(out.seq.end(), e.seq.begin(), e.seq.end());
}

struct ByteLevelPost : PostProcessor {
  bool trim = true, add_prefix_space = true;
  std::vector<Enc> process(std::vector<Enc> encs, bool) const override {
    if (trim)
      for (Enc& e : encs) trim_offsets(e, add_prefix_space);
    return encs;
  }
};

// RobertaProcessing (with trim) and BertProcessing (without): cls A sep [sep B sep].
struct ClsSepPost : PostProcessor {
  SpecialSeq cls, sep;
  bool roberta = false, trim = true, add_prefix_space = true;
  std::vector<Enc> process(std::vector<Enc> encs, bool special) const override {
    if (roberta && trim)
      for (Enc& e : encs) trim_offsets(e, add_prefix_space);
    if (roberta)
      for (Enc& e : encs) std::fill(e.type_ids.begin(), e.type_ids.end(), 0);
    if (!special) return encs;
    Enc out;
    add_special(out, cls, 0);
    add_sequence(out, encs[0], 0);
    add_special(out, sep, 0);
    if (encs.size() > 1) {
      const int32_t t = roberta ? 0 : 1;
      if (roberta) add_special(out, sep, 0);
      add_sequence(out, encs[1], t);
      add_special(out, sep, t);
    }
    return {out};
  }
};

struct TemplatePost : PostProcessor {
  struct Piece {
    bool special;
    std::string id;  // "A"/"B" or a special token name
    int32_t type_id;
  };
  std::vector<Piece> single, pair;
  std::map<std::string, SpecialSeq> specials;
  std::vector<Enc> process(std::vector<Enc> encs, bool special) const override {
    Enc out;
    for (const Piece& p : encs.size() > 1 ? pair : single) {
      if (p.special) {
        if (special) add_special(out, specials.at(p.id), p.type_id);
      } else {
        add_sequence(out, encs[p.id == "A" ? 0 : 1], p.type_id);
      }
    }
    return {out};
  }
};

struct SequencePost : PostProcessor {
  std::vector<std::unique_ptr<PostProcessor>> steps;
  std::vector<Enc> process(std::vector<Enc> encs, bool special) const override {
    for (const auto& s : steps) encs = s->process(std::move(encs), special);
    return encs;
  }
};

// ---------------------------------------------------------------------------------------
// Added tokens

struct AddedToken {
  std::string content, pattern;  // pattern: content as the normalizer makes it (normalized ones)
  int32_t id;
  bool single_word, lstrip, rstrip, normalized, special;
};

struct Found {
  size_t b, e;
  int32_t index;  // into the added tokens; -1: not a token
};

// AddedVocabulary::find_matches: leftmost-longest matches, single_word, lstrip, rstrip.
// Added tokens by their first byte, so that a position is compared with the few that can start there.
struct TokenIndex {
  std::array<std::vector<const AddedToken*>, 256> by_byte;
  bool empty = true;
  void add(const AddedToken* t) {
    if (t->pattern.empty()) return;
    by_byte[static_cast<unsigned char>(t->pattern[0])].push_back(t);
    empty = false;
  }
};

std::vector<Found> find_added(std::string_view s, const TokenIndex& index, const std::vector<AddedToken>& all) {
  if (s.empty()) return {{0, 0, -1}};
  if (index.empty) return {{0, s.size(), -1}};
  std::vector<Found> out;
  size_t start_offset = 0;
  const auto ends_with_word = [&](size_t end) {
    if (end == 0) return false;
    size_t p = end - 1;
    while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
    return is_word_char(decode_utf8(s, p).cp);
  };
  const auto starts_with_word = [&](size_t at) { return at < s.size() && is_word_char(decode_utf8(s, at).cp); };
  size_t pos = 0;
  while (pos < s.size()) {
    // The leftmost start where a token matches, the longest there.
    size_t best_b = std::string_view::npos, best_len = 0;
    const AddedToken* best = nullptr;
    for (size_t at = pos; at < s.size() && !best; ++at) {
      for (const AddedToken* t : index.by_byte[static_cast<unsigned char>(s[at])])
        if (s.compare(at, t->pattern.size(), t->pattern) == 0 && t->pattern.size() > best_len)
          best = t, best_b = at, best_len = t->pattern.size();
    }
    if (!best) break;
    size_t start = best_b, stop = best_b + best_len;
    pos = stop;
    if (best->single_word) {
      const bool start_space = start == 0 || !ends_with_word(start);
      const bool stop_space = stop == s.size() || !starts_with_word(stop);
      if (!start_space || !stop_space) continue;
    }
    if (best->lstrip) {
      size_t b = start;
      while (b > 0) {
        size_t p = b - 1;
        while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
        if (!is_whitespace(decode_utf8(s, p).cp)) break;
        b = p;
      }
      start = std::max(b, start_offset);
    }
    if (best->rstrip)
      while (stop < s.size() && is_whitespace(decode_utf8(s, stop).cp)) stop += decode_utf8(s, stop).length;
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, static_cast<int32_t>(best - all.data())});
    start_offset = stop;
  }
  if (start_offset != s.size()) out.push_back({start_offset, s.size(), -1});
  return out;
}

// ---------------------------------------------------------------------------------------
// Loading

std::string type_of(const json& j) {
  if (j.is_null()) return "none";
  if (j.is_object() && j.contains("type") && j["type"].is_string()) return j["type"].get<std::string>();
  return "?";
}

[[noreturn]] void unsupported(const std::string& path, const std::string& field, const std::string& what) {
  throw std::invalid_argument(path + ": unsupported " + field + " \"" + what + "\" (field " + field + ".type)");
}

// Whether `re` matches the same over UTF-8 bytes (std::regex) as over characters (tokenizers' Oniguruma): ASCII
// only, and none of the constructs that could match part of a multi-byte character or mean more in Unicode.
bool regex_is_byte_safe(const std::string& re) {
  for (size_t i = 0; i < re.size(); ++i) {
    const auto c = static_cast<unsigned char>(re[i]);
    if (c >= 0x80 || c == '.') return false;
    if (c == '[' && i + 1 < re.size() && re[i + 1] == '^') return false;
    if (c == '\\' && i + 1 < re.size()) {
      if (std::string_view("sSwWdDbBpPXRhHuxU0123456789").find(re[i + 1]) != std::string_view::npos) return false;
      ++i;
    }
  }
  return true;
}

Pattern make_pattern(const json& pattern, const std::string& path, const std::string& field) {
  Pattern p;
  if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string()) {
    p.literal = pattern["String"].get<std::string>();
    return p;
  }
  if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) {
    const std::string re = pattern["Regex"].get<std::string>();
    if (!regex_is_byte_safe(re))
      throw std::invalid_argument(path + ": unsupported regex pattern " + pattern["Regex"].dump() + " (field " + field +
                                  ".pattern; supported: ASCII patterns without '.', [^...], \\s \\w \\d \\b \\p)");
    try {
      p.regex = std::make_shared<const std::regex>(re, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      throw FileFormatError(path, "invalid regex " + pattern["Regex"].dump() + " in " + field + ".pattern: " + e.what());
    }
    return p;
  }
  throw FileFormatError(path, "bad pattern in " + field + " (expected {\"String\": ...} or {\"Regex\": ...})");
}

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& path) {
  const std::string t = type_of(j);
  if (t == "none") return nullptr;
  if (t == "NFC") return std::make_unique<UnicodeNormalizer>(false, true);
  if (t == "NFD") return std::make_unique<UnicodeNormalizer>(false, false);
  if (t == "NFKC") return std::make_unique<UnicodeNormalizer>(true, true);
  if (t == "NFKD") return std::make_unique<UnicodeNormalizer>(true, false);
  if (t == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (t == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  if (t == "Strip") return std::make_unique<StripNormalizer>(j.value("strip_left", true), j.value("strip_right", true));
  if (t == "Replace") {
    auto r = std::make_unique<ReplaceNormalizer>();
    r->pattern = make_pattern(j.at("pattern"), path, "normalizer");
    r->content = j.at("content").get<std::string>();
    return r;
  }
  if (t == "Prepend") {
    auto p = std::make_unique<PrependNormalizer>();
    p->prefix = j.at("prepend").get<std::string>();
    return p;
  }
  if (t == "BertNormalizer") {
    auto b = std::make_unique<BertNormalizerStep>();
    b->clean_text = j.value("clean_text", true);
    b->chinese = j.value("handle_chinese_chars", true);
    b->lowercase = j.value("lowercase", true);
    b->strip_accents = j.contains("strip_accents") && !j["strip_accents"].is_null() ? (j["strip_accents"].get<bool>() ? 1 : 0) : -1;
    return b;
  }
  if (t == "Sequence") {
    auto s = std::make_unique<SequenceNormalizer>();
    for (const json& step : j.at("normalizers")) {
      auto n = make_normalizer(step, path);
      if (n) s->steps.push_back(std::move(n));
    }
    return s;
  }
  if (t == "Precompiled") {
    auto p = std::make_unique<PrecompiledNormalizer>();
    const json& map = j.at("precompiled_charsmap");
    if (map.is_null()) return p;
    const std::string bytes = base64_decode(map.get<std::string>(), path);
    if (bytes.size() < 4) throw FileFormatError(path, "precompiled_charsmap too short (field normalizer.precompiled_charsmap)");
    const uint32_t trie_size = static_cast<uint32_t>(static_cast<unsigned char>(bytes[0])) |
                               static_cast<uint32_t>(static_cast<unsigned char>(bytes[1])) << 8 |
                               static_cast<uint32_t>(static_cast<unsigned char>(bytes[2])) << 16 |
                               static_cast<uint32_t>(static_cast<unsigned char>(bytes[3])) << 24;
    if (trie_size % 4 != 0 || 4 + static_cast<size_t>(trie_size) > bytes.size())
      throw FileFormatError(path, "precompiled_charsmap trie size out of range (field normalizer.precompiled_charsmap)");
    p->trie.resize(trie_size / 4);
    for (size_t i = 0; i < p->trie.size(); ++i) {
      const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + 4 + 4 * i);
      p->trie[i] = static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 | static_cast<uint32_t>(b[2]) << 16 |
                   static_cast<uint32_t>(b[3]) << 24;
    }
    p->normalized = bytes.substr(4 + trie_size);
    return p;
  }
  unsupported(path, "normalizer", t);
}

const char* const kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& path) {
  const std::string t = type_of(j);
  if (t == "none") return nullptr;
  if (t == "ByteLevel") {
    auto b = std::make_unique<ByteLevelPre>();
    b->add_prefix_space = j.value("add_prefix_space", true);
    b->use_regex = j.value("use_regex", true);
    return b;
  }
  if (t == "Metaspace") {
    auto m = std::make_unique<MetaspacePre>();
    m->replacement = j.value("replacement", std::string("\u2581"));
    const auto cs = chars_of(m->replacement);
    if (cs.size() != 1) throw FileFormatError(path, "Metaspace replacement must be one char");
    m->replacement_char = cs[0].cp;
    if (j.contains("prepend_scheme")) m->scheme = j["prepend_scheme"].get<std::string>();
    else if (j.contains("add_prefix_space")) m->scheme = j["add_prefix_space"].get<bool>() ? "always" : "never";
    if (m->scheme != "always" && m->scheme != "first" && m->scheme != "never")
      throw std::invalid_argument(path + ": unsupported Metaspace prepend_scheme \"" + m->scheme +
                                  "\" (field pre_tokenizer.prepend_scheme)");
    m->split_words = j.value("split", true);
    return m;
  }
  if (t == "Whitespace") return std::make_unique<WhitespacePre>();
  if (t == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPre>();
  if (t == "BertPreTokenizer") return std::make_unique<BertPre>();
  if (t == "Split") {
    auto s = std::make_unique<SplitPre>();
    const json& p = j.at("pattern");
    if (p.is_object() && p.contains("Regex") && p["Regex"].get<std::string>() == kGpt2Pattern) s->gpt2 = true;
    else s->pattern = make_pattern(p, path, "pre_tokenizer");
    s->behavior = behavior_of(j.value("behavior", std::string("Isolated")), path);
    s->invert = j.value("invert", false);
    return s;
  }
  if (t == "Sequence") {
    auto s = std::make_unique<SequencePre>();
    for (const json& step : j.at("pretokenizers")) {
      auto p = make_pre_tokenizer(step, path);
      if (p) s->steps.push_back(std::move(p));
    }
    return s;
  }
  unsupported(path, "pre_tokenizer", t);
}

// A token id from the file: an integer in 0 .. 2^31 - 1. (nlohmann's get<int>() of a float
// such as 1.6e128 is undefined behaviour; fuzz_tokenizer_json found one under UBSan.)
int32_t token_id(const json& j, const std::string& path, const char* field) {
  if (!j.is_number_integer() || (j.is_number_unsigned() ? j.get<uint64_t>() > uint64_t(INT32_MAX)
                                                          : j.get<int64_t>() < 0 || j.get<int64_t>() > INT32_MAX))
    throw FileFormatError(path, std::string("a token id in ") + field + " is not an integer in 0..2147483647: " + j.dump());
  return static_cast<int32_t>(j.get<int64_t>());
}

SpecialSeq special_pair(const json& j, const std::string& path) {  // ["<s>", 0]
  return {{token_id(j.at(1), path, "post_processor")}, {j.at(0).get<std::string>()}};
}

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& path) {
  const std::string t = type_of(j);
  if (t == "none") return nullptr;
  if (t == "ByteLevel") {
    auto b = std::make_unique<ByteLevelPost>();
    b->trim = j.value("trim_offsets", true);
    b->add_prefix_space = j.value("add_prefix_space", true);
    return b;
  }
  if (t == "RobertaProcessing" || t == "BertProcessing") {
    auto c = std::make_unique<ClsSepPost>();
    c->cls = special_pair(j.at("cls"), path);
    c->sep = special_pair(j.at("sep"), path);
    c->roberta = t == "RobertaProcessing";
    c->trim = j.value("trim_offsets", true);
    c->add_prefix_space = j.value("add_prefix_space", true);
    return c;
  }
  if (t == "TemplateProcessing") {
    auto tp = std::make_unique<TemplatePost>();
    const auto type_id = [&](const json& piece) {
      return piece.contains("type_id") ? token_id(piece["type_id"], path, "post_processor type_id") : 0;
    };
    const auto pieces = [&](const json& list) {
      std::vector<TemplatePost::Piece> out;
      for (const json& p : list) {
        if (p.contains("SpecialToken"))
          out.push_back({true, p["SpecialToken"].at("id").get<std::string>(), type_id(p["SpecialToken"])});
        else if (p.contains("Sequence"))
          out.push_back({false, p["Sequence"].at("id").get<std::string>(), type_id(p["Sequence"])});
        else
          throw FileFormatError(path, "bad TemplateProcessing piece " + p.dump());
      }
      return out;
    };
    tp->single = pieces(j.at("single"));
    tp->pair = pieces(j.at("pair"));
    for (const auto& [name, s] : j.at("special_tokens").items()) {
      SpecialSeq seq{{}, s.at("tokens").get<std::vector<std::string>>()};
      for (const json& id : s.at("ids")) seq.ids.push_back(token_id(id, path, "post_processor special_tokens"));
      if (seq.ids.size() != seq.tokens.size())
        throw FileFormatError(path, "TemplateProcessing special token \"" + name + "\" has " + std::to_string(seq.ids.size()) +
                                        " ids but " + std::to_string(seq.tokens.size()) + " tokens");
      tp->specials[name] = std::move(seq);
    }
    for (const auto* list : {&tp->single, &tp->pair})
      for (const auto& p : *list) {
        if (p.special && !tp->specials.count(p.id))
          throw FileFormatError(path, "TemplateProcessing uses \"" + p.id + "\", not in its special_tokens");
        // Found by fuzz_tokenizer_json: any other id read past the sequences (HF's only have A and B).
        if (!p.special && p.id != "A" && (p.id != "B" || list == &tp->single))
          throw FileFormatError(path, "TemplateProcessing " + std::string(list == &tp->single ? "single" : "pair") +
                                          " names sequence \"" + p.id + "\" (single has only A, pair A and B)");
      }
    return tp;
  }
  if (t == "Sequence") {
    auto s = std::make_unique<SequencePost>();
    for (const json& step : j.at("processors")) {
      auto p = make_post_processor(step, path);
      if (p) s->steps.push_back(std::move(p));
    }
    return s;
  }
  unsupported(path, "post_processor", t);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileFormatError(path, "cannot open");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

struct Pipeline::Impl {
  std::string path, model_type;
  std::vector<std::string> vocab;
  std::unordered_map<std::string, int32_t> ids;
  std::vector<AddedToken> added;
  TokenIndex raw_tokens, normalized_tokens;
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  std::unique_ptr<PostProcessor> post_processor;

  void set_id(const std::string& token, int64_t id) {
    if (id < 0 || id >= (int64_t{1} << 24)) throw FileFormatError(path, "bad id for token \"" + token + "\"");
    const auto i = static_cast<size_t>(id);
    if (i >= vocab.size()) vocab.resize(i + 1);
    vocab[i] = token;
    ids[token] = static_cast<int32_t>(id);
  }

  Enc encode_one(std::string_view text, int32_t seq) const {
    struct Part {
      NormStr n;
      int32_t token = -1;  // added token index
    };
    // 1. Added tokens in the raw text.
    std::vector<Part> parts;
    const NormStr whole = from_original(text, 0);
    for (const Found& f : find_added(text, raw_tokens, added)) {
      NormStr n = slice(whole, f.b, f.e);
      if (f.b == f.e) n.ob = n.oe = static_cast<int64_t>(f.b);
      parts.push_back({std::move(n), f.index});
    }
    // 2. Normalize the rest; added tokens in the normalized text.
    std::vector<Part> parts2;
    for (Part& p : parts) {
      if (p.token >= 0) {
        parts2.push_back(std::move(p));
        continue;
      }
      if (normalizer) normalizer->normalize(p.n);
      for (const Found& f : find_added(p.n.s, normalized_tokens, added)) {
        if (f.b == f.e) continue;
        parts2.push_back({slice(p.n, f.b, f.e), f.index});
      }
    }
    // 3. Pre-tokenize and run the model.
    Enc enc;
    enc.texts[seq == 1 ? 1 : 0] = text;
    const auto emit = [&](const NormStr& n, const ModelToken& t) {
      Token out{t.id, t.value, 0, 0};
      if (t.b < t.e) out.begin = n.al[t.b].begin, out.end = n.al[t.e - 1].end;
      else out.begin = out.end = n.ob + static_cast<int64_t>(t.b);
      enc.tokens.push_back(std::move(out));
      enc.type_ids.push_back(seq);
      enc.seq.push_back(seq);
    };
    std::vector<ModelToken> tokens;
    for (Part& p : parts2) {
      if (p.n.s.empty()) continue;
      if (p.token >= 0) {
        emit(p.n, {added[static_cast<size_t>(p.token)].id, p.n.s, 0, p.n.s.size()});
        continue;
      }
      std::vector<NormStr> words;
      words.push_back(std::move(p.n));
      if (pre_tokenizer) pre_tokenizer->pre_tokenize(words);
      for (const NormStr& w : words) {
        if (w.s.empty()) continue;
        tokens.clear();
        model->tokenize(w.s, tokens);
        for (const ModelToken& t : tokens) emit(w, t);
      }
    }
    return enc;
  }
};

Pipeline::Pipeline() : impl_(std::make_unique<Impl>()) {}
Pipeline::~Pipeline() = default;

const std::vector<std::string>& Pipeline::vocab() const { return impl_->vocab; }
const std::unordered_map<std::string, int32_t>& Pipeline::ids() const { return impl_->ids; }
const std::string& Pipeline::model_type() const { return impl_->model_type; }

std::shared_ptr<const Pipeline> Pipeline::load(const std::string& path) { return load_text(read_text(path), path); }

std::shared_ptr<const Pipeline> Pipeline::load_vocab_merges(const std::string& dir) {
  const std::string vocab_path = dir + "/vocab.json", merges_path = dir + "/merges.txt";
  const std::string config_path = dir + "/tokenizer_config.json";
  json vocab, config = json::object();
  try {
    vocab = json::parse(read_text(vocab_path));
  } catch (const json::exception& e) {
    throw FileFormatError(vocab_path, "invalid JSON: " + json_error_text(e));
  }
  if (!vocab.is_object()) throw FileFormatError(vocab_path, "not an object of token ids");
  std::ifstream probe(config_path);
  if (probe) {
    try {
      config = json::parse(read_text(config_path));
    } catch (const json::exception& e) {
      throw FileFormatError(config_path, "invalid JSON: " + json_error_text(e));
    }
  }
  json merges = json::array();
  {
    std::istringstream lines(read_text(merges_path));
    std::string line;
    bool first = true;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (first && line.rfind("#version", 0) == 0) {
        first = false;
        continue;
      }
      first = false;
      if (line.empty()) continue;
      merges.push_back(line);
    }
  }
  const std::string cls = config.value("tokenizer_class", std::string());
  const bool roberta = cls.rfind("Roberta", 0) == 0 || cls.rfind("Longformer", 0) == 0 || cls.rfind("Bart", 0) == 0;
  const bool prefix = config.value("add_prefix_space", false);
  const auto name = [&](const char* key, const std::string& fallback) {
    if (!config.contains(key) || config[key].is_null()) return fallback;
    const json& v = config[key];
    return v.is_string() ? v.get<std::string>() : v.value("content", fallback);
  };
  json added = json::array();
  int64_t next = 0;
  for (const auto& [token, id] : vocab.items()) next = std::max<int64_t>(next, token_id(id, vocab_path, "vocab.json") + int64_t{1});
  const auto add = [&](const std::string& token, bool lstrip) {
    int64_t id;
    if (vocab.contains(token)) {
      id = token_id(vocab[token], vocab_path, "vocab.json");
    } else {
      id = next++;
    }
    for (const json& a : added)
      if (a["content"] == token) return;
    added.push_back({{"id", id}, {"content", token}, {"single_word", false}, {"lstrip", lstrip}, {"rstrip", false},
                     {"normalized", false}, {"special", true}});
  };
  std::string bos = name("bos_token", "<|endoftext|>"), eos = name("eos_token", "<|endoftext|>");
  if (roberta) {
    bos = name("bos_token", "<s>"), eos = name("eos_token", "</s>");
    for (const std::string& t : {bos, eos, name("sep_token", "</s>"), name("cls_token", "<s>"), name("unk_token", "<unk>"),
                                 name("pad_token", "<pad>")})
      add(t, false);
    // transformers 5 builds <mask> without lstrip unless tokenizer_config.json says otherwise.
    const json mask = config.value("mask_token", json());
    add(name("mask_token", "<mask>"), mask.is_object() && mask.value("lstrip", false));
  } else {
    add(name("unk_token", "<|endoftext|>"), false);
    add(bos, false);
    add(eos, false);
  }
  std::sort(added.begin(), added.end(), [](const json& a, const json& b) { return a["id"] < b["id"]; });
  json out = {{"added_tokens", added},
              {"normalizer", nullptr},
              {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", prefix}, {"trim_offsets", true},
                                 {"use_regex", true}}},
              {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                         {"continuing_subword_prefix", ""}, {"end_of_word_suffix", ""}, {"fuse_unk", false},
                         {"byte_fallback", false}, {"vocab", vocab}, {"merges", merges}}}};
  for (const json& a : added) out["model"]["vocab"][a["content"].get<std::string>()] = a["id"];
  if (roberta) {
    out["post_processor"] = {{"type", "RobertaProcessing"},
                             {"sep", {eos, out["model"]["vocab"][eos]}},
                             {"cls", {bos, out["model"]["vocab"][bos]}},
                             {"trim_offsets", true},
                             {"add_prefix_space", prefix}};
  } else {
    out["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false},
                             {"use_regex", true}};
  }
  return load_text(out.dump(), vocab_path);
}

std::shared_ptr<const Pipeline> Pipeline::load_text(const std::string& text, const std::string& path) {
  json config;
  try {
    config = json::parse(text);
  } catch (const json::exception& e) {
    throw FileFormatError(path, "invalid JSON: " + json_error_text(e));
  }
  if (!config.is_object()) throw FileFormatError(path, "not a JSON object (a tokenizer.json is one)");
  std::shared_ptr<Pipeline> p(new Pipeline());
  Impl& im = *p->impl_;
  im.path = path;
  try {
    const json& model = config.at("model");
    std::string type = type_of(model);
    if (type == "?" && model.contains("merges")) type = "BPE";
    if (type == "?" && model.contains("continuing_subword_prefix")) type = "WordPiece";
    im.model_type = type;
    if (type == "BPE") {
      if (!model.value("dropout", json()).is_null() && model["dropout"].get<double>() != 0.0)
        throw std::invalid_argument(path + ": unsupported BPE dropout " + model["dropout"].dump() +
                                    " (field model.dropout; only null is supported)");
      for (const auto& [token, id] : model.at("vocab").items()) im.set_id(token, token_id(id, path, "model.vocab"));
    } else if (type == "Unigram") {
      int64_t i = 0;
      for (const json& entry : model.at("vocab")) im.set_id(entry.at(0).get<std::string>(), i++);
    } else if (type == "WordPiece") {
      for (const auto& [token, id] : model.at("vocab").items()) im.set_id(token, token_id(id, path, "model.vocab"));
    } else {
      unsupported(path, "model", type);
    }
    // Added tokens: in the vocabulary, matched in the text.
    for (const json& a : config.value("added_tokens", json::array())) {
      AddedToken t;
      t.content = a.at("content").get<std::string>();
      t.id = token_id(a.at("id"), path, "added_tokens");
      t.single_word = a.value("single_word", false);
      t.lstrip = a.value("lstrip", false);
      t.rstrip = a.value("rstrip", false);
      t.special = a.value("special", false);
      t.normalized = a.value("normalized", !t.special);
      im.set_id(t.content, t.id);
      im.added.push_back(std::move(t));
    }
    im.normalizer = make_normalizer(config.value("normalizer", json()), path);
    im.pre_tokenizer = make_pre_tokenizer(config.value("pre_tokenizer", json()), path);
    im.post_processor = make_post_processor(config.value("post_processor", json()), path);

    if (type == "BPE") {
      auto bpe = std::make_unique<BpeModel>();
      bpe->vocab = &im.ids;
      bpe->vocab_r = &im.vocab;
      const auto opt = [&](const char* key) -> std::optional<std::string> {
        if (!model.contains(key) || model[key].is_null()) return std::nullopt;
        return model[key].get<std::string>();
      };
      bpe->unk_token = opt("unk_token");
      bpe->prefix = opt("continuing_subword_prefix");
      bpe->suffix = opt("end_of_word_suffix");
      bpe->byte_fallback = model.value("byte_fallback", false);
      bpe->fuse_unk = model.value("fuse_unk", false);
      bpe->ignore_merges = model.value("ignore_merges", false);
      // The model's own vocabulary only (added tokens are not merged into).
      std::unordered_map<std::string, int32_t> model_vocab;
      for (const auto& [token, id] : model.at("vocab").items()) model_vocab[token] = token_id(id, path, "model.vocab");
      const size_t prefix_len = bpe->prefix ? bpe->prefix->size() : 0;
      int32_t rank = 0;
      for (const json& m : model.value("merges", json::array())) {
        std::string a, b;
        if (m.is_array()) {
          a = m.at(0).get<std::string>(), b = m.at(1).get<std::string>();
        } else {
          const std::string line = m.get<std::string>();
          const size_t space = line.find(' ');
          if (space == std::string::npos) throw FileFormatError(path, "bad merge \"" + line + "\" (field model.merges)");
          a = line.substr(0, space), b = line.substr(space + 1);
        }
        const auto ia = model_vocab.find(a), ib = model_vocab.find(b);
        const std::string merged = a + b.substr(std::min(prefix_len, b.size()));
        const auto im_ = model_vocab.find(merged);
        if (ia == model_vocab.end() || ib == model_vocab.end() || im_ == model_vocab.end())
          throw FileFormatError(path, "merge \"" + a + " " + b + "\" uses a token out of the vocabulary (field model.merges)");
        bpe->merges.emplace(BpeModel::key(ia->second, ib->second), std::make_pair(rank++, im_->second));
      }
      // The BPE model's vocab_r is its own; the shared vocab has the same strings for its ids.
      im.model = std::move(bpe);
    } else if (type == "Unigram") {
      auto u = std::make_unique<UnigramModel>();
      double min_score = std::numeric_limits<double>::infinity();
      for (const json& entry : model.at("vocab")) {
        const std::string piece = entry.at(0).get<std::string>();
        const double score = entry.at(1).get<double>();
        u->ids.emplace(piece, static_cast<int32_t>(u->pieces.size()));
        u->pieces.push_back({piece, score});
        min_score = std::min(min_score, score);
        u->max_piece_bytes = std::max(u->max_piece_bytes, piece.size());
      }
      u->min_score = u->pieces.empty() ? 0 : min_score;
      if (model.contains("unk_id") && !model["unk_id"].is_null()) {
        u->unk_id = token_id(model["unk_id"], path, "model.unk_id");
        if (*u->unk_id < 0 || static_cast<size_t>(*u->unk_id) >= u->pieces.size())
          throw FileFormatError(path, "unk_id out of the vocabulary (field model.unk_id)");
        p->unk_token = u->pieces[static_cast<size_t>(*u->unk_id)].first;
      }
      u->byte_fallback = model.value("byte_fallback", false);
      im.model = std::move(u);
    } else {
      auto w = std::make_unique<WordPieceJsonModel>();
      w->vocab = &im.ids;
      w->options.unk_token = model.value("unk_token", std::string("[UNK]"));
      w->options.continuing_subword_prefix = model.value("continuing_subword_prefix", std::string("##"));
      w->options.max_input_chars_per_word =
          model.contains("max_input_chars_per_word") ? token_id(model["max_input_chars_per_word"], path, "model.max_input_chars_per_word") : 100;
      const auto it = im.ids.find(w->options.unk_token);
      if (it == im.ids.end()) throw FileFormatError(path, "WordPiece unk_token not in the vocabulary (field model.unk_token)");
      w->unk_id = it->second;
      for (const auto& entry : im.ids) w->max_token_bytes = std::max(w->max_token_bytes, entry.first.size());
      p->unk_token = w->options.unk_token;
      im.model = std::move(w);
    }
    if (type == "BPE" && model.contains("unk_token") && model["unk_token"].is_string())
      p->unk_token = model["unk_token"].get<std::string>();
  } catch (const json::exception& e) {
    throw FileFormatError(path, json_error_text(e));
  }
  // Added tokens: those normalized are matched after the normalizer, as it writes them.
  for (AddedToken& t : im.added) {
    if (t.normalized) {
      NormStr n = from_original(t.content, 0);
      if (im.normalizer) im.normalizer->normalize(n);
      t.pattern = n.s;
    } else {
      t.pattern = t.content;
    }
  }
  for (const AddedToken& t : im.added) (t.normalized ? im.normalized_tokens : im.raw_tokens).add(&t);

  // Special token names from the post-processor and the usual names.
  const json post = config.value("post_processor", json());
  const auto name_of = [&](const json& j) { return j.is_array() ? j.at(0).get<std::string>() : std::string(); };
  if (type_of(post) == "RobertaProcessing" || type_of(post) == "BertProcessing") {
    p->cls_token = name_of(post.value("cls", json()));
    p->sep_token = name_of(post.value("sep", json()));
  } else if (type_of(post) == "TemplateProcessing") {
    const json& single = post.at("single");
    for (const json& piece : single)
      if (piece.contains("SpecialToken")) {
        const std::string id = piece["SpecialToken"]["id"];
        if (p->cls_token.empty() && &piece == &single.front()) p->cls_token = id;
        if (&piece == &single.back()) p->sep_token = id;
      }
  }
  for (const char* name : {"<pad>", "[PAD]", "<|padding|>"})
    if (p->pad_token.empty() && im.ids.count(name)) p->pad_token = name;
  for (const char* name : {"<mask>", "[MASK]"})
    if (p->mask_token.empty() && im.ids.count(name)) p->mask_token = name;
  return p;
}

Encoding Pipeline::encode(std::string_view text, const std::string_view* pair, bool add_special_tokens) const {
  validate_utf8(text);
  if (pair) validate_utf8(*pair);
  std::vector<Enc> encs;
  encs.push_back(impl_->encode_one(text, 0));
  if (pair) encs.push_back(impl_->encode_one(*pair, 1));
  if (impl_->post_processor) encs = impl_->post_processor->process(std::move(encs), add_special_tokens);
  Encoding out;
  for (Enc& e : encs) {
    out.tokens.insert(out.tokens.end(), e.tokens.begin(), e.tokens.end());
    out.type_ids.insert(out.type_ids.end(), e.type_ids.begin(), e.type_ids.end());
    out.sequence_ids.insert(out.sequence_ids.end(), e.seq.begin(), e.seq.end());
  }
  return out;
}

}  // namespace longqa::tokenization
