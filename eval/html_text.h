// BeautifulSoup(markup).get_text() as the KorQuAD 2.0 evaluation script calls it:
// Beautiful Soup 4.11 with Python 3.11's html.parser (the parser bs4 picks when lxml
// and html5lib are absent, as with Debian's python3-bs4).
#pragma once
#include <string>
#include <string_view>

namespace longqa::eval::detail {

// Throws longqa::eval::HtmlParseError where html.parser raises AssertionError
// (e.g. "<![foo]>"), which makes the official script fail as well.
std::u32string html_get_text(std::u32string_view markup);

}  // namespace longqa::eval::detail
