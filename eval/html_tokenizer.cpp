// A port of Python 3.11's html.parser.HTMLParser.goahead() and its parse_* helpers (with
// convert_charrefs=False, as bs4 sets it), and of bs4's character-reference decoding; see
// html_tokenizer.h. Function names follow the Python ones so the two can be read side by side.
#include "html_tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <vector>

#include "longqa/common/html_entities.h"
#include "longqa/qa_metrics.h"
#include "python_text.h"

namespace longqa::eval::detail {
namespace {

constexpr size_t npos = std::u32string::npos;

// py_isspace (Python's \s on str patterns), its ASCII answers looked up once.
bool is_space(char32_t c) {
  static const auto ascii = [] {
    std::array<bool, 128> table{};
    for (char32_t a = 0; a < 128; ++a) table[a] = py_isspace(a);
    return table;
  }();
  return c < 128 ? ascii[c] : py_isspace(c);
}

// str.lower() of a tag name; an ASCII name (the usual one) lowers without a Unicode lookup.
std::u32string lower_name(std::u32string_view name) {
  if (!std::all_of(name.begin(), name.end(), [](char32_t c) { return c < 128; })) return py_lower(name);
  std::u32string out(name);
  for (char32_t& c : out)
    if (c >= U'A' && c <= U'Z') c += 0x20;
  return out;
}

// ---------------------------------------------------------------------------
// A small backtracking matcher with sre's semantics (greedy loops, leftmost
// alternative first), for the two html.parser regexes whose result depends on
// backtracking: locatestarttagend_tolerant and attrfind_tolerant.

using char_pred = bool (*)(char32_t);

struct rx_node {
  enum class op { one, seq, alt, repeat, behind, not_ahead } kind;
  char_pred pred = nullptr;
  std::vector<std::shared_ptr<const rx_node>> items;
  size_t min = 0, max = 0;
};
using rx = std::shared_ptr<const rx_node>;
// The continuation of a match: a non-owning reference to a callable (no allocation, unlike
// std::function); it lives as long as the call it is passed to.
class rx_cont {
 public:
  template <typename F>
  rx_cont(const F& f)  // NOLINT(google-explicit-constructor): lambdas convert implicitly
      : callable_(&f), call_([](const void* c, size_t j) { return (*static_cast<const F*>(c))(j); }) {}
  bool operator()(size_t j) const { return call_(callable_, j); }

 private:
  const void* callable_;
  bool (*call_)(const void*, size_t);
};

rx one(char_pred pred) { return std::make_shared<rx_node>(rx_node{rx_node::op::one, pred, {}, 0, 0}); }
rx behind(char_pred pred) { return std::make_shared<rx_node>(rx_node{rx_node::op::behind, pred, {}, 0, 0}); }
rx seq(std::initializer_list<rx> items) { return std::make_shared<rx_node>(rx_node{rx_node::op::seq, nullptr, items, 0, 0}); }
rx alt(std::initializer_list<rx> items) { return std::make_shared<rx_node>(rx_node{rx_node::op::alt, nullptr, items, 0, 0}); }
rx not_ahead(rx item) { return std::make_shared<rx_node>(rx_node{rx_node::op::not_ahead, nullptr, {item}, 0, 0}); }
rx repeat(rx item, size_t min, size_t max) {
  return std::make_shared<rx_node>(rx_node{rx_node::op::repeat, nullptr, {item}, min, max});
}
rx star(rx item) { return repeat(item, 0, npos); }
rx plus(rx item) { return repeat(item, 1, npos); }
rx opt(rx item) { return repeat(item, 0, 1); }

bool rx_match(const rx_node& n, std::u32string_view s, size_t i, const rx_cont& k);

// Whether every match of `n` is exactly one character long: a character class, a sequence of
// one such with zero-width lookarounds, or a choice of those.
bool one_wide(const rx_node& n) {
  switch (n.kind) {
    case rx_node::op::one: return true;
    case rx_node::op::alt:
      return !n.items.empty() && std::all_of(n.items.begin(), n.items.end(), [](const rx& item) { return one_wide(*item); });
    case rx_node::op::seq: {
      int wide = 0;
      for (const rx& item : n.items) {
        if (item->kind == rx_node::op::not_ahead || item->kind == rx_node::op::behind) continue;
        if (!one_wide(*item)) return false;
        ++wide;
      }
      return wide == 1;
    }
    default: return false;
  }
}

bool rx_seq(const rx_node& n, size_t index, std::u32string_view s, size_t i, const rx_cont& k) {
  if (index == n.items.size()) return k(i);
  return rx_match(*n.items[index], s, i, [&](size_t j) { return rx_seq(n, index + 1, s, j, k); });
}

bool rx_repeat(const rx_node& n, size_t count, std::u32string_view s, size_t i, const rx_cont& k) {
  // As in sre, an iteration that matches nothing ends the loop.
  if (count < n.max &&
      rx_match(*n.items[0], s, i, [&](size_t j) { return j != i && rx_repeat(n, count + 1, s, j, k); }))
    return true;
  return count >= n.min && k(i);
}

bool rx_match(const rx_node& n, std::u32string_view s, size_t i, const rx_cont& k) {
  switch (n.kind) {
    case rx_node::op::one:
      return i < s.size() && n.pred(s[i]) && k(i + 1);
    case rx_node::op::seq:
      return rx_seq(n, 0, s, i, k);
    case rx_node::op::alt:
      for (const rx& item : n.items)
        if (rx_match(*item, s, i, k)) return true;
      return false;
    case rx_node::op::repeat:
      if (one_wide(*n.items[0])) {
        // A loop over an item that always matches exactly one character (a character class,
        // or a choice of such, with lookarounds) has one way to match each count: it
        // backtracks by count, without recursion. (Recursing once per character overflowed
        // the stack on a few thousand '/' in a tag: fuzz_html.)
        const rx_node& item = *n.items[0];
        const auto matches_at = [&](size_t at) { return rx_match(item, s, at, [](size_t) { return true; }); };
        size_t run = 0;
        while (run < n.max && i + run < s.size() && matches_at(i + run)) ++run;
        for (size_t m = run; m >= n.min; --m) {
          if (k(i + m)) return true;
          if (m == 0) break;
        }
        return false;
      }
      return rx_repeat(n, 0, s, i, k);
    case rx_node::op::behind:
      return i > 0 && n.pred(s[i - 1]) && k(i);
    case rx_node::op::not_ahead:
      return !rx_match(*n.items[0], s, i, [](size_t) { return true; }) && k(i);
  }
  return false;
}

// The end of the first match at i, as pattern.match(string, i).end().
std::optional<size_t> rx_match_end(const rx& pattern, std::u32string_view s, size_t i) {
  size_t end = 0;
  if (!rx_match(*pattern, s, i, [&](size_t j) { end = j; return true; })) return std::nullopt;
  return end;
}

bool is_ascii_alpha(char32_t c) { return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z'); }
bool is_ascii_alnum(char32_t c) { return is_ascii_alpha(c) || (c >= U'0' && c <= U'9'); }
bool is_hex_digit(char32_t c) {
  return (c >= U'0' && c <= U'9') || (c >= U'a' && c <= U'f') || (c >= U'A' && c <= U'F');
}

// <[a-zA-Z][^\t\n\r\f />\x00]*(?:[\s/]*(?:(?<=['"\s/])[^\s/>][^\s/=>]*(?:\s*=+\s*
// (?:'[^']*'|"[^"]*"|(?!['"])[^>\s]*)\s*)?(?:\s|/(?!>))*)*)?\s*
// and attrfind_tolerant, which shares the attribute part.
struct start_tag_patterns {
  rx locatestarttagend_tolerant, attrfind_tolerant;

  start_tag_patterns() {
    const rx space = one([](char32_t c) { return is_space(c); });
    const rx spaces = star(space);
    const rx gt = one([](char32_t c) { return c == U'>'; });
    const rx space_or_lone_slash =
        star(alt({space, seq({one([](char32_t c) { return c == U'/'; }), not_ahead(gt)})}));
    const rx attr_name = seq({
        behind([](char32_t c) { return c == U'\'' || c == U'"' || c == U'/' || is_space(c); }),
        one([](char32_t c) { return !(is_space(c) || c == U'/' || c == U'>'); }),
        star(one([](char32_t c) { return !(is_space(c) || c == U'/' || c == U'=' || c == U'>'); })),
    });
    const rx value_indicator = seq({spaces, plus(one([](char32_t c) { return c == U'='; })), spaces});
    const rx value = alt({
        seq({one([](char32_t c) { return c == U'\''; }), star(one([](char32_t c) { return c != U'\''; })),
             one([](char32_t c) { return c == U'\''; })}),
        seq({one([](char32_t c) { return c == U'"'; }), star(one([](char32_t c) { return c != U'"'; })),
             one([](char32_t c) { return c == U'"'; })}),
        seq({not_ahead(one([](char32_t c) { return c == U'\'' || c == U'"'; })),
             star(one([](char32_t c) { return !(c == U'>' || is_space(c)); }))}),
    });
    locatestarttagend_tolerant = seq({
        one([](char32_t c) { return c == U'<'; }),
        one(is_ascii_alpha),
        star(one([](char32_t c) {
          return !(c == U'\t' || c == U'\n' || c == U'\r' || c == U'\f' || c == U' ' || c == U'/' ||
                   c == U'>' || c == 0);
        })),
        opt(seq({
            star(one([](char32_t c) { return c == U'/' || is_space(c); })),
            star(seq({attr_name, opt(seq({value_indicator, value, spaces})), space_or_lone_slash})),
        })),
        spaces,
    });
    attrfind_tolerant = seq({attr_name, opt(seq({value_indicator, value})), space_or_lone_slash});
  }
};

const start_tag_patterns& patterns() {
  static const start_tag_patterns instance;
  return instance;
}

// ---------------------------------------------------------------------------
// Character references, as bs4's BeautifulSoupHTMLParser decodes them.

// One name table for every HTML decoder (longqa/common/html_entities.h); names here are
// [-.a-zA-Z0-9] (entityref), so a byte per character spells them.
std::optional<std::u32string> lookup_entity(std::u32string_view name) {
  std::string ascii;
  for (const char32_t c : name) ascii += static_cast<char>(c);
  const HtmlEntity* entity = find_html_entity(ascii);
  if (!entity) return std::nullopt;
  std::u32string value(1, entity->first);
  if (entity->second != 0) value += entity->second;
  return value;
}

// Python's windows-1252 codec for 0x80..0x9F; its five undefined bytes fail to decode,
// and bs4 then falls back to chr(n), which the identity entries stand for.
constexpr char32_t windows_1252_c1[32] = {
    0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021, 0x2C6,  0x2030, 0x160,
    0x2039, 0x152,  0x8D,   0x17D,  0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178};

// bs4's handle_charref: the number (decimal, or hex after x/X) as a code point, bytes
// below 256 read as windows-1252, U+FFFD where chr() fails (past U+10FFFF).
char32_t decode_charref(std::u32string_view name) {
  const bool hex = name[0] == U'x' || name[0] == U'X';
  const uint64_t base = hex ? 16 : 10;
  uint64_t value = 0;
  for (const char32_t c : name.substr(hex ? 1 : 0)) {
    const uint64_t digit = c <= U'9' ? c - U'0' : (c | 0x20) - U'a' + 10;
    value = std::min<uint64_t>(value * base + digit, uint64_t{0x110000});  // saturates past chr()'s range
  }
  if (value >= 0x80 && value < 0xA0) return windows_1252_c1[value - 0x80];
  if (value > 0x10FFFF) return 0xFFFD;
  return static_cast<char32_t>(value);
}

bool starts_with(std::u32string_view s, size_t i, std::u32string_view prefix) {
  return s.substr(std::min(i, s.size()), prefix.size()) == prefix;
}

// Python re's IGNORECASE equality with a lowercase ASCII letter: its simple case
// variants plus the non-ASCII ones sre treats as equal (İ, ı ~ i; ſ ~ s; K ~ k).
bool ignorecase_equal(char32_t c, char32_t lower_ascii) {
  if (c == lower_ascii || c == lower_ascii - 0x20) return true;
  switch (lower_ascii) {
    case U'i': return c == 0x130 || c == 0x131;
    case U's': return c == 0x17F;
    case U'k': return c == 0x212A;
    default: return false;
  }
}

// ---------------------------------------------------------------------------
// Character references under HtmlTokenizerOptions::References::strict.

struct strict_reference {
  size_t end;            // just past the reference (and its ';')
  char32_t value[2];
  size_t length;         // code points in value
};

// "&name;" with a known name of ASCII letters and digits (32 at most), or "&#digits" /
// "&#xhex" with an optional ';'; nullopt when raw[i] == '&' starts neither.
std::optional<strict_reference> match_strict_reference(std::u32string_view raw, size_t i) {
  size_t p = i + 1;
  if (p < raw.size() && raw[p] == U'#') {
    ++p;
    const bool hex = p < raw.size() && (raw[p] == U'x' || raw[p] == U'X');
    if (hex) ++p;
    const size_t digits_begin = p;
    uint32_t value = 0;
    for (; p < raw.size() && (hex ? is_hex_digit(raw[p]) : (raw[p] >= U'0' && raw[p] <= U'9')); ++p) {
      const uint32_t digit = raw[p] <= U'9' ? raw[p] - U'0' : (raw[p] | 0x20) - U'a' + 10;
      value = std::min<uint32_t>(value * (hex ? 16 : 10) + digit, 0x110000);  // saturates past U+10FFFF
    }
    if (p == digits_begin) return std::nullopt;
    if (p < raw.size() && raw[p] == U';') ++p;
    const bool bad = value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF);
    return strict_reference{p, {bad ? char32_t{0xFFFD} : static_cast<char32_t>(value), 0}, 1};
  }
  while (p < raw.size() && p - i <= 32 && is_ascii_alnum(raw[p])) ++p;
  if (p == i + 1 || p >= raw.size() || raw[p] != U';') return std::nullopt;
  const auto value = lookup_entity(raw.substr(i + 1, p - (i + 1)));
  if (!value) return std::nullopt;
  return strict_reference{p + 1, {(*value)[0], value->size() > 1 ? (*value)[1] : 0}, value->size()};
}

// ---------------------------------------------------------------------------
// html.parser.HTMLParser, emitting tokens where it calls its handle_* methods.

class html_tokenizer {
 public:
  html_tokenizer(std::u32string_view markup, const HtmlTokenizerOptions& options,
                 const std::function<void(const HtmlToken&)>& on_token)
      : raw_(markup), options_(options), on_token_(on_token) {}

  void run() {
    goahead(false);  // HTMLParser.feed()
    goahead(true);   // HTMLParser.close()
  }

 private:
  void goahead(bool end) {
    const std::u32string_view raw = raw_;
    const size_t n = raw.size();
    size_t i = start_;
    while (i < n) {
      size_t j = cdata_elem_.empty() ? raw.find_first_of(U"&<", i) : find_cdata_close(i);
      if (j == npos) {
        if (!cdata_elem_.empty()) break;
        j = n;
      }
      if (i < j) handle_data(i, j);
      i = j;
      if (i == n) break;
      if (raw[i] == U'<') {
        ptrdiff_t k;
        if (i + 1 < n && is_ascii_alpha(raw[i + 1])) {
          k = parse_starttag(i);
        } else if (starts_with(raw, i, U"</")) {
          k = parse_endtag(i);
        } else if (starts_with(raw, i, U"<!--")) {
          k = parse_comment(i);
        } else if (starts_with(raw, i, U"<?")) {
          k = parse_pi(i);
        } else if (starts_with(raw, i, U"<!")) {
          k = parse_html_declaration(i);
        } else if (i + 1 < n) {
          handle_data(i, i + 1);
          k = static_cast<ptrdiff_t>(i + 1);
        } else {
          break;
        }
        if (k < 0) {
          if (!end) break;
          size_t stop = raw.find(U'>', i + 1);
          if (stop == npos) {
            stop = raw.find(U'<', i + 1);
            if (stop == npos) stop = i + 1;
          } else {
            stop += 1;
          }
          handle_data(i, stop);
          k = static_cast<ptrdiff_t>(stop);
        }
        i = static_cast<size_t>(k);
      } else if (options_.references == HtmlTokenizerOptions::References::strict) {
        if (const auto ref = match_strict_reference(raw, i)) {
          emit(HtmlTokenKind::reference, i, ref->end, std::u32string_view(ref->value, ref->length));
          i = ref->end;
        } else {
          handle_data(i, i + 1);  // a lone '&'
          i += 1;
        }
      } else if (starts_with(raw, i, U"&#")) {
        if (const auto ref_end = match_charref(i)) {
          const char32_t value = decode_charref(raw.substr(i + 2, *ref_end - 1 - (i + 2)));
          const size_t next = raw[*ref_end - 1] == U';' ? *ref_end : *ref_end - 1;
          emit(HtmlTokenKind::reference, i, next, std::u32string_view(&value, 1));
          i = next;
          continue;
        }
        if (raw.find(U';', i) != npos) {  // bail by consuming "&#"
          handle_data(i, i + 2);
          i += 2;
        }
        break;
      } else {  // '&'
        if (const auto ref_end = match_entityref(i)) {
          const std::u32string_view name(raw.data() + i + 1, *ref_end - 1 - (i + 1));
          const auto value = lookup_entity(name);
          const size_t next = raw[*ref_end - 1] == U';' ? *ref_end : *ref_end - 1;
          // Unknown names stay literal, without their ';' (bs4 writes "&" + name).
          emit(HtmlTokenKind::reference, i, next, value ? *value : U"&" + std::u32string(name));
          i = next;
          continue;
        }
        if (i + 1 < n && (is_ascii_alpha(raw[i + 1]) || raw[i + 1] == U'#')) {  // "incomplete"
          if (end && n - i == 2) i += 1;
          break;
        }
        if (i + 1 < n) {
          handle_data(i, i + 1);
          i += 1;
        } else {
          break;
        }
      }
    }
    if (end && i < n && cdata_elem_.empty()) {
      handle_data(i, n);
      i = n;
    }
    start_ = i;
  }

  // interesting = re.compile(r'</\s*%s\s*>' % cdata_elem, re.I); search from i.
  size_t find_cdata_close(size_t i) const {
    const std::u32string_view raw = raw_;
    for (size_t p = raw.find(U"</", i); p != npos; p = raw.find(U"</", p + 1)) {
      size_t q = p + 2;
      while (q < raw.size() && is_space(raw[q])) ++q;
      size_t matched = 0;
      while (matched < cdata_elem_.size() && q < raw.size() && ignorecase_equal(raw[q], cdata_elem_[matched]))
        ++matched, ++q;
      if (matched < cdata_elem_.size()) continue;
      while (q < raw.size() && is_space(raw[q])) ++q;
      if (q < raw.size() && raw[q] == U'>') return p;
    }
    return npos;
  }

  // charref = &#(?:[0-9]+|[xX][0-9a-fA-F]+)[^0-9a-fA-F]; the end of the match.
  std::optional<size_t> match_charref(size_t i) const {
    const std::u32string_view raw = raw_;
    size_t p = i + 2;
    const bool hex = p < raw.size() && (raw[p] == U'x' || raw[p] == U'X');
    if (hex) ++p;
    const size_t digits_start = p;
    while (p < raw.size() && (hex ? is_hex_digit(raw[p]) : (raw[p] >= U'0' && raw[p] <= U'9'))) ++p;
    // Backtracking cannot help: a shorter run is followed by a (hex) digit.
    if (p == digits_start || p == raw.size() || is_hex_digit(raw[p])) return std::nullopt;
    return p + 1;
  }

  // entityref = &([a-zA-Z][-.a-zA-Z0-9]*)[^a-zA-Z0-9]; the end of the match.
  std::optional<size_t> match_entityref(size_t i) const {
    const std::u32string_view raw = raw_;
    const size_t name_start = i + 1;
    if (name_start >= raw.size() || !is_ascii_alpha(raw[name_start])) return std::nullopt;
    size_t p = name_start + 1;
    while (p < raw.size() && (is_ascii_alnum(raw[p]) || raw[p] == U'-' || raw[p] == U'.')) ++p;
    if (p < raw.size()) return p + 1;
    // At the end of the buffer the regex backtracks to the last '-' or '.' of the name,
    // which then serves as the terminating character.
    for (size_t r = p - 1; r > name_start; --r)
      if (raw[r] == U'-' || raw[r] == U'.') return r + 1;
    return std::nullopt;
  }

  // tagfind_tolerant = ([a-zA-Z][^\t\n\r\f />\x00]*)(?:\s|/(?!>))* at i (a letter);
  // returns the end of the name and the end of the match.
  std::pair<size_t, size_t> match_tagfind(size_t i) const {
    const std::u32string_view raw = raw_;
    size_t p = i + 1;
    while (p < raw.size() && !(raw[p] == U'\t' || raw[p] == U'\n' || raw[p] == U'\r' || raw[p] == U'\f' ||
                               raw[p] == U' ' || raw[p] == U'/' || raw[p] == U'>' || raw[p] == 0))
      ++p;
    const size_t name_end = p;
    while (p < raw.size() &&
           (is_space(raw[p]) || (raw[p] == U'/' && !(p + 1 < raw.size() && raw[p + 1] == U'>'))))
      ++p;
    return {name_end, p};
  }

  ptrdiff_t check_for_whole_start_tag(size_t i) const {
    const std::u32string_view raw = raw_;
    const size_t j = *rx_match_end(patterns().locatestarttagend_tolerant, raw, i);  // '<' + letter always matches
    if (j == raw.size()) return -1;  // end of input
    const char32_t next = raw[j];
    if (next == U'>') return static_cast<ptrdiff_t>(j + 1);
    if (next == U'/') return starts_with(raw, j, U"/>") ? static_cast<ptrdiff_t>(j + 2) : -1;
    if (is_ascii_alpha(next) || next == U'=') return -1;  // end of input in or before an attribute
    return static_cast<ptrdiff_t>(j > i ? j : i + 1);
  }

  ptrdiff_t parse_starttag(size_t i) {
    const ptrdiff_t endpos_signed = check_for_whole_start_tag(i);
    if (endpos_signed < 0) return endpos_signed;
    const size_t endpos = static_cast<size_t>(endpos_signed);
    const std::u32string_view raw = raw_;
    const auto [name_end, tag_end] = match_tagfind(i + 1);
    const std::u32string tag = lower_name(std::u32string_view(raw).substr(i + 1, name_end - (i + 1)));
    size_t k = tag_end;
    while (k < endpos) {
      const auto attr_end = rx_match_end(patterns().attrfind_tolerant, raw, k);
      if (!attr_end) break;
      k = *attr_end;
    }
    const std::u32string_view rest =
        k < endpos ? py_strip(std::u32string_view(raw).substr(k, endpos - k)) : std::u32string_view();
    if (rest != U">" && rest != U"/>") {
      handle_data(i, endpos);
      return endpos_signed;
    }
    emit(HtmlTokenKind::start_tag, i, endpos, tag, rest == U"/>");
    if (rest != U"/>" && is_raw_text_element(tag)) cdata_elem_ = tag;
    return endpos_signed;
  }

  ptrdiff_t parse_endtag(size_t i) {
    const std::u32string_view raw = raw_;
    const size_t first_gt = raw.find(U'>', i + 1);
    if (first_gt == npos) return -1;
    const size_t gtpos = first_gt + 1;
    // endtagfind = </\s*([a-zA-Z][-.a-zA-Z0-9:_]*)\s*>
    size_t p = i + 2;
    while (p < raw.size() && is_space(raw[p])) ++p;
    const size_t name_start = p;
    std::optional<std::u32string> elem;
    if (p < raw.size() && is_ascii_alpha(raw[p])) {
      ++p;
      while (p < raw.size() &&
             (is_ascii_alnum(raw[p]) || raw[p] == U'-' || raw[p] == U'.' || raw[p] == U':' || raw[p] == U'_'))
        ++p;
      const size_t name_end = p;
      while (p < raw.size() && is_space(raw[p])) ++p;
      if (p < raw.size() && raw[p] == U'>') elem = lower_name(std::u32string_view(raw).substr(name_start, name_end - name_start));
    }
    if (!elem) {
      if (!cdata_elem_.empty()) {
        handle_data(i, gtpos);
        return static_cast<ptrdiff_t>(gtpos);
      }
      if (!(i + 2 < raw.size() && is_ascii_alpha(raw[i + 2]))) {
        if (starts_with(raw, i, U"</>")) return static_cast<ptrdiff_t>(i + 3);
        return parse_bogus_comment(i);
      }
      const auto [name_end, tag_end] = match_tagfind(i + 2);
      const std::u32string tagname = lower_name(std::u32string_view(raw).substr(i + 2, name_end - (i + 2)));
      // Anything between the name and the next '>' is ignored.
      const size_t close = raw.find(U'>', tag_end);
      emit(HtmlTokenKind::end_tag, i, close + 1, tagname);
      return static_cast<ptrdiff_t>(close + 1);
    }
    if (!cdata_elem_.empty() && *elem != cdata_elem_) {
      handle_data(i, gtpos);
      return static_cast<ptrdiff_t>(gtpos);
    }
    cdata_elem_.clear();
    emit(HtmlTokenKind::end_tag, i, gtpos, *elem);
    return static_cast<ptrdiff_t>(gtpos);
  }

  ptrdiff_t parse_bogus_comment(size_t i) {
    const size_t pos = raw_.find(U'>', i + 2);
    if (pos == npos) return -1;
    emit(HtmlTokenKind::comment, i, pos + 1, raw_.substr(i + 2, pos - (i + 2)));
    return static_cast<ptrdiff_t>(pos + 1);
  }

  ptrdiff_t parse_pi(size_t i) {
    const size_t pos = raw_.find(U'>', i + 2);
    if (pos == npos) return -1;
    emit(HtmlTokenKind::processing_instruction, i, pos + 1, raw_.substr(i + 2, pos - (i + 2)));
    return static_cast<ptrdiff_t>(pos + 1);
  }

  // commentclose = --\s*>, searched from `from`: {match start, match end}.
  std::optional<std::pair<size_t, size_t>> find_comment_close(size_t from) const {
    const std::u32string_view raw = raw_;
    for (size_t p = raw.find(U"--", from); p != npos; p = raw.find(U"--", p + 1)) {
      size_t q = p + 2;
      while (q < raw.size() && is_space(raw[q])) ++q;
      if (q < raw.size() && raw[q] == U'>') return std::make_pair(p, q + 1);
    }
    return std::nullopt;
  }

  ptrdiff_t parse_comment(size_t i) {
    const auto close = find_comment_close(i + 4);
    if (!close) return -1;
    emit(HtmlTokenKind::comment, i, close->second, raw_.substr(i + 4, close->first - (i + 4)));
    return static_cast<ptrdiff_t>(close->second);
  }

  ptrdiff_t parse_html_declaration(size_t i) {
    const std::u32string_view raw = raw_;
    if (starts_with(raw, i, U"<![")) {
      if (options_.throw_on_bad_marked_section) return parse_marked_section(i);
      try {
        return parse_marked_section(i);
      } catch (const HtmlParseError&) {
        return parse_bogus_comment(i);  // before it emits anything, parse_marked_section may throw
      }
    }
    // rawdata[i:i+9].lower() == '<!doctype': no non-ASCII character lowers to these letters.
    static constexpr std::u32string_view doctype = U"<!doctype";
    bool is_doctype = i + doctype.size() <= raw.size();
    for (size_t d = 0; is_doctype && d < doctype.size(); ++d) {
      const char32_t c = raw[i + d];
      is_doctype = (c >= U'A' && c <= U'Z' ? c + 0x20 : c) == doctype[d];
    }
    if (is_doctype) {
      const size_t gtpos = raw.find(U'>', i + 9);
      if (gtpos == npos) return -1;
      emit(HtmlTokenKind::doctype, i, gtpos + 1, U"");  // (bs4's Doctype text is never returned)
      return static_cast<ptrdiff_t>(gtpos + 1);
    }
    return parse_bogus_comment(i);
  }

  // _markupbase._scan_name: {lowercased name, position after it and its spaces}, or
  // nullopt at the end of the buffer.
  std::optional<std::pair<std::u32string, size_t>> scan_name(size_t i, size_t declstartpos) const {
    const std::u32string_view raw = raw_;
    if (i == raw.size()) return std::nullopt;
    if (!is_ascii_alpha(raw[i])) {
      throw HtmlParseError("expected name token at '" +
                             encode_utf8(std::u32string_view(raw).substr(declstartpos, 20)) + "'");
    }
    size_t p = i + 1;
    while (p < raw.size() &&
           (is_ascii_alnum(raw[p]) || raw[p] == U'-' || raw[p] == U'_' || raw[p] == U'.'))
      ++p;
    std::u32string name;
    for (size_t q = i; q < p; ++q) name += raw[q] >= U'A' && raw[q] <= U'Z' ? raw[q] + 0x20 : raw[q];
    while (p < raw.size() && is_space(raw[p])) ++p;
    if (p == raw.size()) return std::nullopt;
    return std::make_pair(name, p);
  }

  ptrdiff_t parse_marked_section(size_t i) {
    const std::u32string_view raw = raw_;
    const auto scanned = scan_name(i + 3, i);
    if (!scanned) return -1;
    const std::u32string& name = scanned->first;
    // Standard sections end with ]\s*]\s*>, MS Office's [if ...] ones with ]\s*>.
    bool double_bracket;
    if (name == U"temp" || name == U"cdata" || name == U"ignore" || name == U"include" || name == U"rcdata") {
      double_bracket = true;
    } else if (name == U"if" || name == U"else" || name == U"endif") {
      double_bracket = false;
    } else {
      throw HtmlParseError("unknown status keyword '" +
                             encode_utf8(std::u32string_view(raw).substr(i + 3, scanned->second - (i + 3))) +
                             "' in marked section");
    }
    for (size_t p = raw.find(U']', i + 3); p != npos; p = raw.find(U']', p + 1)) {
      size_t q = p + 1;
      while (q < raw.size() && is_space(raw[q])) ++q;
      if (double_bracket) {
        if (q == raw.size() || raw[q] != U']') continue;
        ++q;
        while (q < raw.size() && is_space(raw[q])) ++q;
      }
      if (q < raw.size() && raw[q] == U'>') {
        unknown_decl(i, q + 1, raw.substr(i + 3, p - (i + 3)));
        return static_cast<ptrdiff_t>(q + 1);
      }
    }
    return -1;
  }

  // bs4's unknown_decl: "CDATA[x" (any case) is CDATA, anything else a declaration.
  void unknown_decl(size_t begin, size_t end, std::u32string_view data) {
    static constexpr std::u32string_view cdata = U"cdata[";
    bool is_cdata = data.size() >= cdata.size();
    for (size_t d = 0; is_cdata && d < cdata.size(); ++d)
      is_cdata = (data[d] >= U'A' && data[d] <= U'Z' ? data[d] + 0x20 : data[d]) == cdata[d];
    if (is_cdata) {
      emit(HtmlTokenKind::cdata, begin, end, data.substr(cdata.size()));
    } else {
      emit(HtmlTokenKind::declaration, begin, end, data);
    }
  }

  // ----- tokens -----

  void emit(HtmlTokenKind kind, size_t begin, size_t end, std::u32string_view value, bool self_closing = false) {
    on_token_(HtmlToken{kind, begin, end, value, self_closing});
  }

  // raw_[begin, end) as character data (raw text inside a raw-text element).
  void handle_data(size_t begin, size_t end) {
    emit(cdata_elem_.empty() ? HtmlTokenKind::text : HtmlTokenKind::raw_text, begin, end,
         raw_.substr(begin, end - begin));
  }

  bool is_raw_text_element(std::u32string_view name) const {
    const auto& names = options_.raw_text_elements;
    return std::find(names.begin(), names.end(), name) != names.end();
  }

  const std::u32string_view raw_;
  const HtmlTokenizerOptions& options_;
  const std::function<void(const HtmlToken&)>& on_token_;
  size_t start_ = 0;           // where the next goahead() resumes (html.parser's rawdata[0])
  std::u32string cdata_elem_;  // the raw-text element we are in, else empty
};

}  // namespace

void tokenize_html(std::u32string_view markup, const HtmlTokenizerOptions& options,
                   const std::function<void(const HtmlToken&)>& on_token) {
  html_tokenizer(markup, options, on_token).run();
}

}  // namespace longqa::eval::detail
