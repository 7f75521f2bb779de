// A port of what BeautifulSoup(markup).get_text() does with html.parser: Python
// 3.11's html.parser.HTMLParser.goahead() and its parse_* helpers (with bs4's
// convert_charrefs=False), bs4's BeautifulSoupHTMLParser handlers, and the parts of
// BeautifulSoup's tree building that decide which strings get_text() returns.
// Function names follow the Python ones so the two can be read side by side.
#include "html_text.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <vector>

#include "longqa/qa_metrics.h"
#include "python_text.h"

namespace longqa::eval::detail {
namespace {

constexpr size_t npos = std::u32string::npos;

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
using rx_cont = std::function<bool(size_t)>;

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
      if (n.items[0]->kind == rx_node::op::one) {
        // A loop over single characters backtracks by count, without recursion.
        const char_pred pred = n.items[0]->pred;
        size_t run = 0;
        while (run < n.max && i + run < s.size() && pred(s[i + run])) ++run;
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
    const rx space = one([](char32_t c) { return py_isspace(c); });
    const rx spaces = star(space);
    const rx gt = one([](char32_t c) { return c == U'>'; });
    const rx space_or_lone_slash =
        star(alt({space, seq({one([](char32_t c) { return c == U'/'; }), not_ahead(gt)})}));
    const rx attr_name = seq({
        behind([](char32_t c) { return c == U'\'' || c == U'"' || c == U'/' || py_isspace(c); }),
        one([](char32_t c) { return !(py_isspace(c) || c == U'/' || c == U'>'); }),
        star(one([](char32_t c) { return !(py_isspace(c) || c == U'/' || c == U'=' || c == U'>'); })),
    });
    const rx value_indicator = seq({spaces, plus(one([](char32_t c) { return c == U'='; })), spaces});
    const rx value = alt({
        seq({one([](char32_t c) { return c == U'\''; }), star(one([](char32_t c) { return c != U'\''; })),
             one([](char32_t c) { return c == U'\''; })}),
        seq({one([](char32_t c) { return c == U'"'; }), star(one([](char32_t c) { return c != U'"'; })),
             one([](char32_t c) { return c == U'"'; })}),
        seq({not_ahead(one([](char32_t c) { return c == U'\'' || c == U'"'; })),
             star(one([](char32_t c) { return !(c == U'>' || py_isspace(c)); }))}),
    });
    locatestarttagend_tolerant = seq({
        one([](char32_t c) { return c == U'<'; }),
        one(is_ascii_alpha),
        star(one([](char32_t c) {
          return !(c == U'\t' || c == U'\n' || c == U'\r' || c == U'\f' || c == U' ' || c == U'/' ||
                   c == U'>' || c == 0);
        })),
        opt(seq({
            star(one([](char32_t c) { return c == U'/' || py_isspace(c); })),
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

struct html_entity {
  const char* name;
  char32_t first, second;
};
constexpr html_entity html_entities[] = {
#include "html_entities.inc"
};

std::optional<std::u32string> lookup_entity(std::u32string_view name) {
  std::string ascii;
  for (const char32_t c : name) ascii += static_cast<char>(c);  // names are [-.a-zA-Z0-9]
  const auto* it = std::lower_bound(std::begin(html_entities), std::end(html_entities), ascii,
                                    [](const html_entity& e, const std::string& key) { return e.name < key; });
  if (it == std::end(html_entities) || it->name != ascii) return std::nullopt;
  std::u32string value(1, it->first);
  if (it->second != 0) value += it->second;
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

bool is_void_element(std::u32string_view name) {
  static const std::u32string_view names[] = {
      U"area", U"base", U"br", U"col", U"embed", U"hr", U"img", U"input", U"keygen", U"link", U"menuitem",
      U"meta", U"param", U"source", U"track", U"wbr", U"basefont", U"bgsound", U"command", U"frame",
      U"image", U"isindex", U"nextid", U"spacer"};
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

// The classes bs4 gives strings; get_text() keeps NavigableString and CData only.
enum class string_class { navigable, cdata, other };

class soup_text_builder {
 public:
  explicit soup_text_builder(std::u32string_view markup) : rawdata_(markup) {}

  std::u32string run() {
    goahead(false);  // HTMLParser.feed()
    goahead(true);   // HTMLParser.close()
    end_data(string_class::navigable);
    return std::move(text_);
  }

 private:
  // ----- html.parser.HTMLParser -----

  void goahead(bool end) {
    const std::u32string& raw = rawdata_;
    const size_t n = raw.size();
    size_t i = 0;
    while (i < n) {
      size_t j = cdata_elem_.empty() ? raw.find_first_of(U"&<", i) : find_cdata_close(i);
      if (j == npos) {
        if (!cdata_elem_.empty()) break;
        j = n;
      }
      if (i < j) handle_data(raw.substr(i, j - i));
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
          handle_data(U"<");
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
          handle_data(raw.substr(i, stop - i));
          k = static_cast<ptrdiff_t>(stop);
        }
        i = static_cast<size_t>(k);
      } else if (starts_with(raw, i, U"&#")) {
        if (const auto ref_end = match_charref(i)) {
          handle_data(std::u32string(1, decode_charref(raw.substr(i + 2, *ref_end - 1 - (i + 2)))));
          i = raw[*ref_end - 1] == U';' ? *ref_end : *ref_end - 1;
          continue;
        }
        if (raw.find(U';', i) != npos) {  // bail by consuming "&#"
          handle_data(raw.substr(i, 2));
          i += 2;
        }
        break;
      } else {  // '&'
        if (const auto ref_end = match_entityref(i)) {
          const std::u32string_view name(raw.data() + i + 1, *ref_end - 1 - (i + 1));
          const auto value = lookup_entity(name);
          // Unknown names stay literal, without their ';' (bs4 writes "&" + name).
          handle_data(value ? *value : U"&" + std::u32string(name));
          i = raw[*ref_end - 1] == U';' ? *ref_end : *ref_end - 1;
          continue;
        }
        if (i + 1 < n && (is_ascii_alpha(raw[i + 1]) || raw[i + 1] == U'#')) {  // "incomplete"
          if (end && n - i == 2) i += 1;
          break;
        }
        if (i + 1 < n) {
          handle_data(U"&");
          i += 1;
        } else {
          break;
        }
      }
    }
    if (end && i < n && cdata_elem_.empty()) {
      handle_data(raw.substr(i));
      i = n;
    }
    rawdata_ = rawdata_.substr(i);
  }

  // interesting = re.compile(r'</\s*%s\s*>' % cdata_elem, re.I); search from i.
  size_t find_cdata_close(size_t i) const {
    const std::u32string& raw = rawdata_;
    for (size_t p = raw.find(U"</", i); p != npos; p = raw.find(U"</", p + 1)) {
      size_t q = p + 2;
      while (q < raw.size() && py_isspace(raw[q])) ++q;
      size_t matched = 0;
      while (matched < cdata_elem_.size() && q < raw.size() && ignorecase_equal(raw[q], cdata_elem_[matched]))
        ++matched, ++q;
      if (matched < cdata_elem_.size()) continue;
      while (q < raw.size() && py_isspace(raw[q])) ++q;
      if (q < raw.size() && raw[q] == U'>') return p;
    }
    return npos;
  }

  // charref = &#(?:[0-9]+|[xX][0-9a-fA-F]+)[^0-9a-fA-F]; the end of the match.
  std::optional<size_t> match_charref(size_t i) const {
    const std::u32string& raw = rawdata_;
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
    const std::u32string& raw = rawdata_;
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
    const std::u32string& raw = rawdata_;
    size_t p = i + 1;
    while (p < raw.size() && !(raw[p] == U'\t' || raw[p] == U'\n' || raw[p] == U'\r' || raw[p] == U'\f' ||
                               raw[p] == U' ' || raw[p] == U'/' || raw[p] == U'>' || raw[p] == 0))
      ++p;
    const size_t name_end = p;
    while (p < raw.size() &&
           (py_isspace(raw[p]) || (raw[p] == U'/' && !(p + 1 < raw.size() && raw[p + 1] == U'>'))))
      ++p;
    return {name_end, p};
  }

  ptrdiff_t check_for_whole_start_tag(size_t i) const {
    const std::u32string& raw = rawdata_;
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
    const std::u32string& raw = rawdata_;
    const auto [name_end, tag_end] = match_tagfind(i + 1);
    const std::u32string tag = py_lower(std::u32string_view(raw).substr(i + 1, name_end - (i + 1)));
    size_t k = tag_end;
    while (k < endpos) {
      const auto attr_end = rx_match_end(patterns().attrfind_tolerant, raw, k);
      if (!attr_end) break;
      k = *attr_end;
    }
    const std::u32string_view rest =
        k < endpos ? py_strip(std::u32string_view(raw).substr(k, endpos - k)) : std::u32string_view();
    if (rest != U">" && rest != U"/>") {
      handle_data(raw.substr(i, endpos - i));
      return endpos_signed;
    }
    if (rest == U"/>") {
      handle_startendtag(tag);
    } else {
      handle_starttag(tag, true);
      if (tag == U"script" || tag == U"style") cdata_elem_ = tag;
    }
    return endpos_signed;
  }

  ptrdiff_t parse_endtag(size_t i) {
    const std::u32string& raw = rawdata_;
    const size_t first_gt = raw.find(U'>', i + 1);
    if (first_gt == npos) return -1;
    const size_t gtpos = first_gt + 1;
    // endtagfind = </\s*([a-zA-Z][-.a-zA-Z0-9:_]*)\s*>
    size_t p = i + 2;
    while (p < raw.size() && py_isspace(raw[p])) ++p;
    const size_t name_start = p;
    std::optional<std::u32string> elem;
    if (p < raw.size() && is_ascii_alpha(raw[p])) {
      ++p;
      while (p < raw.size() &&
             (is_ascii_alnum(raw[p]) || raw[p] == U'-' || raw[p] == U'.' || raw[p] == U':' || raw[p] == U'_'))
        ++p;
      const size_t name_end = p;
      while (p < raw.size() && py_isspace(raw[p])) ++p;
      if (p < raw.size() && raw[p] == U'>') elem = py_lower(std::u32string_view(raw).substr(name_start, name_end - name_start));
    }
    if (!elem) {
      if (!cdata_elem_.empty()) {
        handle_data(raw.substr(i, gtpos - i));
        return static_cast<ptrdiff_t>(gtpos);
      }
      if (!(i + 2 < raw.size() && is_ascii_alpha(raw[i + 2]))) {
        if (starts_with(raw, i, U"</>")) return static_cast<ptrdiff_t>(i + 3);
        return parse_bogus_comment(i);
      }
      const auto [name_end, tag_end] = match_tagfind(i + 2);
      const std::u32string tagname = py_lower(std::u32string_view(raw).substr(i + 2, name_end - (i + 2)));
      // Anything between the name and the next '>' is ignored.
      const size_t close = raw.find(U'>', tag_end);
      handle_endtag(tagname, true);
      return static_cast<ptrdiff_t>(close + 1);
    }
    if (!cdata_elem_.empty() && *elem != cdata_elem_) {
      handle_data(raw.substr(i, gtpos - i));
      return static_cast<ptrdiff_t>(gtpos);
    }
    handle_endtag(*elem, true);
    cdata_elem_.clear();
    return static_cast<ptrdiff_t>(gtpos);
  }

  ptrdiff_t parse_bogus_comment(size_t i) {
    const size_t pos = rawdata_.find(U'>', i + 2);
    if (pos == npos) return -1;
    handle_special(rawdata_.substr(i + 2, pos - (i + 2)), string_class::other);  // Comment
    return static_cast<ptrdiff_t>(pos + 1);
  }

  ptrdiff_t parse_pi(size_t i) {
    const size_t pos = rawdata_.find(U'>', i + 2);
    if (pos == npos) return -1;
    handle_special(rawdata_.substr(i + 2, pos - (i + 2)), string_class::other);  // ProcessingInstruction
    return static_cast<ptrdiff_t>(pos + 1);
  }

  // commentclose = --\s*>, searched from `from`: {match start, match end}.
  std::optional<std::pair<size_t, size_t>> find_comment_close(size_t from) const {
    const std::u32string& raw = rawdata_;
    for (size_t p = raw.find(U"--", from); p != npos; p = raw.find(U"--", p + 1)) {
      size_t q = p + 2;
      while (q < raw.size() && py_isspace(raw[q])) ++q;
      if (q < raw.size() && raw[q] == U'>') return std::make_pair(p, q + 1);
    }
    return std::nullopt;
  }

  ptrdiff_t parse_comment(size_t i) {
    const auto close = find_comment_close(i + 4);
    if (!close) return -1;
    handle_special(rawdata_.substr(i + 4, close->first - (i + 4)), string_class::other);  // Comment
    return static_cast<ptrdiff_t>(close->second);
  }

  ptrdiff_t parse_html_declaration(size_t i) {
    const std::u32string& raw = rawdata_;
    if (starts_with(raw, i, U"<![")) return parse_marked_section(i);
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
      handle_special(U"", string_class::other);  // Doctype (its text is never returned)
      return static_cast<ptrdiff_t>(gtpos + 1);
    }
    return parse_bogus_comment(i);
  }

  // _markupbase._scan_name: {lowercased name, position after it and its spaces}, or
  // nullopt at the end of the buffer.
  std::optional<std::pair<std::u32string, size_t>> scan_name(size_t i, size_t declstartpos) const {
    const std::u32string& raw = rawdata_;
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
    while (p < raw.size() && py_isspace(raw[p])) ++p;
    if (p == raw.size()) return std::nullopt;
    return std::make_pair(name, p);
  }

  ptrdiff_t parse_marked_section(size_t i) {
    const std::u32string& raw = rawdata_;
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
      while (q < raw.size() && py_isspace(raw[q])) ++q;
      if (double_bracket) {
        if (q == raw.size() || raw[q] != U']') continue;
        ++q;
        while (q < raw.size() && py_isspace(raw[q])) ++q;
      }
      if (q < raw.size() && raw[q] == U'>') {
        unknown_decl(raw.substr(i + 3, p - (i + 3)));
        return static_cast<ptrdiff_t>(q + 1);
      }
    }
    return -1;
  }

  // ----- bs4's BeautifulSoupHTMLParser -----

  void unknown_decl(std::u32string data) {
    static constexpr std::u32string_view cdata = U"cdata[";
    bool is_cdata = data.size() >= cdata.size();
    for (size_t d = 0; is_cdata && d < cdata.size(); ++d)
      is_cdata = (data[d] >= U'A' && data[d] <= U'Z' ? data[d] + 0x20 : data[d]) == cdata[d];
    if (is_cdata) {
      handle_special(data.substr(cdata.size()), string_class::cdata);
    } else {
      handle_special(std::move(data), string_class::other);  // Declaration
    }
  }

  void handle_starttag(const std::u32string& name, bool handle_empty_element) {
    end_data(string_class::navigable);
    open_tags_.push_back(name);
    if (handle_empty_element && is_void_element(name)) {
      // html.parser sends no end event for <br>; bs4 closes it now and ignores a later </br>.
      handle_endtag(name, false);
      already_closed_empty_element_.push_back(name);
    }
  }

  void handle_startendtag(const std::u32string& name) {
    handle_starttag(name, false);
    handle_endtag(name, true);
  }

  void handle_endtag(const std::u32string& name, bool check_already_closed) {
    if (check_already_closed) {
      const auto it = std::find(already_closed_empty_element_.begin(), already_closed_empty_element_.end(), name);
      if (it != already_closed_empty_element_.end()) {
        already_closed_empty_element_.erase(it);
        return;
      }
    }
    // BeautifulSoup.handle_endtag: endData(), then _popToTag(name) when one is open.
    end_data(string_class::navigable);
    const auto open = std::find(open_tags_.rbegin(), open_tags_.rend(), name);
    if (open != open_tags_.rend()) open_tags_.erase(std::prev(open.base()), open_tags_.end());
  }

  void handle_data(std::u32string_view data) {
    current_data_ += data;
    has_data_ = true;
  }

  // Comments, declarations, CDATA, processing instructions: their own string.
  void handle_special(std::u32string data, string_class cls) {
    end_data(string_class::navigable);
    handle_data(data);
    end_data(cls);
  }

  // ----- BeautifulSoup tree building, reduced to what get_text() returns -----

  void end_data(string_class cls) {
    // bs4 tests its list of pending chunks, so even one empty chunk makes a string.
    if (!has_data_) return;
    std::u32string data = std::move(current_data_);
    current_data_.clear();
    has_data_ = false;
    const auto is_open = [&](std::u32string_view name) {
      return std::find(open_tags_.begin(), open_tags_.end(), name) != open_tags_.end();
    };
    if (!is_open(U"pre") && !is_open(U"textarea") &&
        std::all_of(data.begin(), data.end(), [](char32_t c) {
          return c == U' ' || c == U'\n' || c == U'\t' || c == U'\f' || c == U'\r';
        })) {
      data = data.find(U'\n') != npos ? U"\n" : U" ";
    }
    // Inside rt, rp, style, script or template, plain strings get a class of their
    // own (RubyTextString, Stylesheet, ...) that get_text() skips; CData stays CData.
    const bool in_string_container =
        is_open(U"rt") || is_open(U"rp") || is_open(U"style") || is_open(U"script") || is_open(U"template");
    if (cls == string_class::cdata || (cls == string_class::navigable && !in_string_container)) text_ += data;
  }

  std::u32string rawdata_;
  std::u32string cdata_elem_;  // "script" or "style" while in their raw text, else empty
  std::vector<std::u32string> already_closed_empty_element_;
  std::vector<std::u32string> open_tags_;  // bs4's tagStack without the root
  std::u32string current_data_;
  bool has_data_ = false;
  std::u32string text_;
};

}  // namespace

std::u32string html_get_text(std::u32string_view markup) { return soup_text_builder(markup).run(); }

}  // namespace longqa::eval::detail
