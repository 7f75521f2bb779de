// HTML5's named character references, one table for every HTML decoder in longqa: the
// scorer's BeautifulSoup get_text (eval) and retrieval's HTML to readable text (retriever).
// The table is what Beautiful Soup's html.parser builder decodes, generated from bs4 by
// common/gen_html_entities.py. Which names decode without their ';' is each decoder's rule.
#pragma once
#include <string_view>

namespace longqa {

// A name and its value: one code point, or two (e.g. "NotEqualTilde" is U+2242 U+0338).
struct HtmlEntity {
  const char* name;  // without '&' and ';'
  char32_t first;
  char32_t second;   // 0 when the value is one code point
};

// The entity named `name` (case-sensitive, without '&' and ';'); nullptr when none is.
const HtmlEntity* find_html_entity(std::string_view name);

}  // namespace longqa
