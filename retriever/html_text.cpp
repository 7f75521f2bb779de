// HTML -> readable text for retrieval and reading (longqa/corpus.h): tables and lists kept
// as text, the byte offset into the HTML of every text byte kept so answers map back.
// The markup is read by the scorer's tokenizer (eval/html_tokenizer.h, html.parser's rules)
// with retrieval's options; the scorer's BeautifulSoup-exact get_text is eval/html_text.cpp.
#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "../eval/html_tokenizer.h"
#include "ingest_detail.h"
#include "longqa/common/utf8.h"
#include "longqa/corpus.h"

namespace longqa::retriever {
namespace {

using eval::detail::HtmlToken;
using eval::detail::HtmlTokenKind;

bool is_html_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// Entities need their ';' ("&amp" stays text), and the content of elements a reader should
// not see is raw text, dropped with its markup.
const eval::detail::HtmlTokenizerOptions& tokenizer_options() {
  static const eval::detail::HtmlTokenizerOptions options = [] {
    eval::detail::HtmlTokenizerOptions o;
    o.references = eval::detail::HtmlTokenizerOptions::References::strict;
    o.raw_text_elements = {U"script", U"style", U"title", U"noscript", U"template"};
    o.throw_on_bad_marked_section = false;
    return o;
  }();
  return options;
}

// The markup as code points for the tokenizer, and the byte offset of each (plus the end).
// Ill-formed UTF-8 reads as U+FFFD per maximal subpart; text is copied from the bytes.
struct DecodedHtml {
  std::u32string chars;
  std::vector<size_t> byte_of;
};

DecodedHtml decode_html(const std::string& html, size_t begin) {
  DecodedHtml d;
  d.chars.reserve(html.size() - begin);
  d.byte_of.reserve(html.size() - begin + 1);
  for (size_t pos = begin; pos < html.size();) {
    d.byte_of.push_back(pos);
    if (static_cast<unsigned char>(html[pos]) < 0x80) {
      d.chars.push_back(static_cast<char32_t>(html[pos++]));
    } else {
      const Utf8Char c = decode_utf8(html, pos);
      d.chars.push_back(c.cp);
      pos += c.length;
    }
  }
  d.byte_of.push_back(html.size());
  return d;
}

std::string utf8_of(std::u32string_view chars) {
  std::string out;
  for (const char32_t c : chars) append_utf8(out, c);
  return out;
}

// Calls on_token for each token of html (a byte-order mark is not text), with byte offsets.
template <typename F>
void for_each_token(const std::string& html, F&& on_token) {
  const DecodedHtml d = decode_html(html, html.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0);
  eval::detail::tokenize_html(d.chars, tokenizer_options(), [&](const HtmlToken& token) {
    on_token(token, d.byte_of[token.begin], d.byte_of[token.end]);
  });
}

// ---------------------------------------------------------------------------------------
// HTML -> text

const std::set<std::string>& block_elements() {
  static const std::set<std::string> names = {
      "address", "article", "aside",  "blockquote", "body",   "caption", "center", "dd",   "details", "dialog",
      "dl",      "dt",      "div",    "fieldset",   "figcaption", "figure", "footer", "form", "h1", "h2",
      "h3",      "h4",      "h5",     "h6",         "header", "hgroup",  "hr",     "html", "legend",  "main",
      "nav",     "option",  "p",      "section",    "summary", "tbody",  "tfoot",  "thead"};
  return names;
}

class HtmlConverter {
 public:
  explicit HtmlConverter(const std::string& html) : html_(html) {}

  HtmlText run() {
    for_each_token(html_, [this](const HtmlToken& token, size_t begin, size_t end) {
      switch (token.kind) {
        case HtmlTokenKind::text:
          character_data(begin, end);
          break;
        case HtmlTokenKind::reference:
          reference(token.value, begin, end);
          break;
        case HtmlTokenKind::start_tag:
          start_tag(utf8_of(token.value), static_cast<int64_t>(begin));
          break;
        case HtmlTokenKind::end_tag:
          end_tag(utf8_of(token.value), static_cast<int64_t>(begin));
          break;
        default:  // raw text (script, style, title, ...), comments, declarations: not text
          break;
      }
    });
    out_.html_offsets.push_back(last_source_end_);
    return std::move(out_);
  }

 private:
  struct TableState {
    int64_t cells = 0;  // cells seen in the current row
    bool in_cell = false;
  };

  // Text between markup: whitespace collapses (except in <pre>).
  void character_data(size_t begin, size_t end) {
    size_t run = begin;  // start of bytes copied verbatim
    for (size_t i = begin; i < end;) {
      if (is_html_space(html_[i]) && pre_depth_ == 0) {
        if (i > run) emit_copied(run, i);
        space(static_cast<int64_t>(i));
        while (i < end && is_html_space(html_[i])) ++i;
        run = i;
      } else {
        ++i;
      }
    }
    if (end > run) emit_copied(run, end);
  }

  // A character reference html_[begin, end), decoded to chars.
  void reference(std::u32string_view chars, size_t begin, size_t end) {
    if (chars == U"\u00A0" && pre_depth_ == 0) {
      space(static_cast<int64_t>(begin));  // &nbsp; separates words like a space
    } else {
      emit(utf8_of(chars), begin, end);
    }
  }

  void start_tag(const std::string& name, int64_t at) {
    if (name == "br") {
      line_break(at);
    } else if (name == "li") {
      line_break(at);
      if (!in_cell()) {
        prefix_ = std::string(2 * static_cast<size_t>(std::max<int64_t>(list_depth_ - 1, 0)), ' ') + "- ";
        prefix_at_ = at;
      }
    } else if (name == "ul" || name == "ol" || name == "menu" || name == "dir") {
      ++list_depth_;
      line_break(at);
    } else if (name == "table") {
      line_break(at);
      tables_.emplace_back();
    } else if (name == "tr") {
      row_boundary(at);
    } else if (name == "td" || name == "th") {
      if (tables_.empty()) tables_.emplace_back();  // a cell outside any table
      TableState& table = tables_.back();
      table.in_cell = false;
      if (table.cells > 0) cell_separator(at);
      ++table.cells;
      table.in_cell = true;
    } else if (name == "pre") {
      line_break(at);
      ++pre_depth_;
    } else if (block_elements().count(name)) {
      line_break(at);
    }
  }

  void end_tag(const std::string& name, int64_t at) {
    if (name == "br") {
      line_break(at);  // browsers read </br> as <br>
    } else if (name == "li") {
      line_break(at);
      prefix_.clear();
    } else if (name == "ul" || name == "ol" || name == "menu" || name == "dir") {
      list_depth_ = std::max<int64_t>(list_depth_ - 1, 0);
      line_break(at);
      prefix_.clear();
    } else if (name == "table") {
      if (!tables_.empty()) tables_.pop_back();
      line_break(at);
    } else if (name == "tr") {
      row_boundary(at);
    } else if (name == "td" || name == "th") {
      if (!tables_.empty()) tables_.back().in_cell = false;
    } else if (name == "pre") {
      pre_depth_ = std::max<int64_t>(pre_depth_ - 1, 0);
      line_break(at);
    } else if (block_elements().count(name)) {
      line_break(at);
    }
  }

  void row_boundary(int64_t at) {
    if (tables_.empty()) tables_.emplace_back();
    tables_.back().in_cell = false;
    tables_.back().cells = 0;
    line_break(at);
  }

  bool in_cell() const {
    return std::any_of(tables_.begin(), tables_.end(), [](const TableState& t) { return t.in_cell; });
  }

  // Separators wait until the next text, so none leads, trails or repeats; each keeps the
  // offset of the markup (or whitespace) that caused it. A line break beats a cell
  // separator, which beats a space.
  void line_break(int64_t at) {
    if (in_cell()) {
      space(at);  // a table row stays on one line
    } else if (line_at_ < 0) {
      line_at_ = at;
    }
  }
  void cell_separator(int64_t at) {
    if (cell_at_ < 0) cell_at_ = at;
  }
  void space(int64_t at) {
    if (space_at_ < 0) space_at_ = at;
  }

  void put(std::string_view bytes, int64_t at) {
    out_.text.append(bytes);
    out_.html_offsets.insert(out_.html_offsets.end(), bytes.size(), at);
  }

  void flush_separators() {
    const auto at_line_start = [&] { return out_.text.empty() || out_.text.back() == '\n'; };
    if (line_at_ >= 0 && !at_line_start()) put("\n", line_at_);
    if (!prefix_.empty() && at_line_start()) {
      put(prefix_, prefix_at_);
      prefix_.clear();
    } else if (cell_at_ >= 0 && !at_line_start()) {
      put(" | ", cell_at_);
    } else if (space_at_ >= 0 && !at_line_start()) {
      put(" ", space_at_);
    }
    line_at_ = cell_at_ = space_at_ = -1;
  }

  // Text decoded from html_[source, source_end) (an entity): every byte maps to its start.
  void emit(std::string_view bytes, size_t source, size_t source_end) {
    flush_separators();
    put(bytes, static_cast<int64_t>(source));
    last_source_end_ = static_cast<int64_t>(source_end);
  }

  // html_[begin, end) copied verbatim: each byte maps to itself.
  void emit_copied(size_t begin, size_t end) {
    flush_separators();
    out_.text.append(html_, begin, end - begin);
    for (size_t i = begin; i < end; ++i) out_.html_offsets.push_back(static_cast<int64_t>(i));
    last_source_end_ = static_cast<int64_t>(end);
  }

  const std::string& html_;
  HtmlText out_;
  int64_t last_source_end_ = 0;
  int64_t line_at_ = -1, cell_at_ = -1, space_at_ = -1;  // pending separators (-1: none)
  std::string prefix_;                                  // pending list-item prefix
  int64_t prefix_at_ = 0;
  int64_t list_depth_ = 0, pre_depth_ = 0;
  std::vector<TableState> tables_;
};

}  // namespace

HtmlText html_to_readable_text(const std::string& html) { return HtmlConverter(html).run(); }

namespace detail {

std::string html_title_text(const std::string& html) {
  // The first <title>'s content: raw text up to its end tag.
  size_t content = std::string::npos, close = std::string::npos;
  for_each_token(html, [&](const HtmlToken& token, size_t begin, size_t end) {
    if (close != std::string::npos) return;
    if (content == std::string::npos) {
      if (token.kind == HtmlTokenKind::start_tag && token.value == U"title" && !token.self_closing) content = end;
    } else if (token.kind == HtmlTokenKind::end_tag && token.value == U"title") {
      close = begin;
    }
  });
  if (close == std::string::npos) return "";
  return html_to_readable_text(html.substr(content, close - content)).text;
}

}  // namespace detail
}  // namespace longqa::retriever
