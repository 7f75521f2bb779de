// The one HTML tokenizer of longqa: Python 3.11's html.parser.HTMLParser (goahead() and its
// parse_* helpers, convert_charrefs=False), ported to code points. It serves the scorer's
// BeautifulSoup get_text (eval/html_text.cpp) and retrieval's readable text
// (retriever/html_text.cpp, which maps token positions back to UTF-8 bytes). Where the two
// need different rules, HtmlTokenizerOptions says so; its defaults are html.parser's.
// Private to longqa_eval and longqa_retriever (which includes it by relative path).
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace longqa::eval::detail {

enum class HtmlTokenKind {
  text,                    // character data (also markup html.parser gives up on, as text)
  raw_text,                // the content of a raw-text element (script, style, ...)
  reference,               // a character or entity reference, decoded
  start_tag,               // name lowercased (str.lower()); self_closing for "<name .../>"
  end_tag,                 // name lowercased
  comment,                 // "<!--x-->", and bogus comments such as "<!x>" or "</ x>"
  processing_instruction,  // "<?x>"
  doctype,                 // "<!DOCTYPE ...>"
  declaration,             // a marked section other than CDATA, such as "<![if x]>"
  cdata,                   // "<![CDATA[x]]>"
};

struct HtmlToken {
  HtmlTokenKind kind;
  size_t begin, end;  // the token's source: markup[begin, end), in code points
  // text, raw_text: the characters; reference: its decoded characters; tags: the name;
  // comment, processing_instruction, declaration, cdata: the content; doctype: empty.
  // Valid only during the callback.
  std::u32string_view value;
  bool self_closing = false;  // start_tag only
};

struct HtmlTokenizerOptions {
  // How "&..." reads.
  enum class References {
    // html.parser's charref/entityref patterns (a reference needs a following character,
    // ';' optional) with BeautifulSoup's decoding: 0x80-0x9F as windows-1252, U+FFFD past
    // U+10FFFF, an unknown name as "&name" (its ';' dropped). What the scorer needs.
    python,
    // A named reference needs its ';' and a known name (else the text stays as written,
    // ';' and all); a numeric one needs digits, its ';' is optional, and 0, surrogates and
    // values past U+10FFFF read as U+FFFD. What retrieval text keeps ("&amp" stays literal).
    strict,
  };
  References references = References::python;
  // Elements whose content is raw text, ended only by "</name\s*>" (any case): html.parser's
  // CDATA_CONTENT_ELEMENTS; retrieval adds the elements whose content it drops (title,
  // noscript, template), so markup inside them is not read as markup. Lowercase.
  std::vector<std::u32string> raw_text_elements = {U"script", U"style"};
  // A marked section html.parser rejects ("<![foo]>", "<![ x"): throw HtmlParseError
  // (longqa/qa_metrics.h), as html.parser raises AssertionError and the official script
  // fails; or, when false, read it as a bogus comment up to the next '>'.
  bool throw_on_bad_marked_section = true;
};

// Tokenizes markup as HTMLParser.feed(markup) then close() would, calling on_token for each
// token in source order; markup left incomplete at the end (an unclosed "<!--", "<a ...")
// becomes text up to the next '>', as close() makes it. Every code point of markup lies in
// at most one token's source (a few, such as "</>", in none).
void tokenize_html(std::u32string_view markup, const HtmlTokenizerOptions& options,
                   const std::function<void(const HtmlToken&)>& on_token);

}  // namespace longqa::eval::detail
