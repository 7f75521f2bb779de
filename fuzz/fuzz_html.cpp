// HTML: the scorer's BeautifulSoup get_text (KorQuAD 2.0's evaluation) and the readable text
// with byte offsets back into the HTML (KorQuAD 2.x contexts, .html files). Offsets must
// point into the HTML, in order; the text must be valid UTF-8 when the HTML is.
#include <string>

#include "fuzz_util.h"
#include "html_text.h"  // eval/
#include "longqa/common/utf8.h"
#include "longqa/corpus.h"
#include "longqa/qa_metrics.h"  // HtmlParseError
#include "python_text.h"  // eval/

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string html(reinterpret_cast<const char*>(data), size);
  const bool valid = longqa::invalid_utf8_at(html) == std::string::npos;
  if (valid) {
    const std::u32string markup = longqa::eval::detail::decode_utf8(html, "html");
    try {
      longqa::eval::detail::html_get_text(markup);
    } catch (const longqa::eval::HtmlParseError&) {
      // a marked section html.parser rejects: the official script fails on it too (documented)
    }
  }
  try {
    const auto readable = longqa::retriever::html_to_readable_text(html);
    FUZZ_CHECK(readable.html_offsets.size() == readable.text.size() + 1 || readable.text.empty(),
               std::to_string(readable.html_offsets.size()) + " offsets for " + std::to_string(readable.text.size()) + " bytes");
    int64_t last = 0;
    for (size_t i = 0; i < readable.html_offsets.size(); ++i) {
      const int64_t at = readable.html_offsets[i];
      FUZZ_CHECK(at >= 0 && static_cast<size_t>(at) <= html.size(), "offset " + std::to_string(i));
      FUZZ_CHECK(at >= last, "offset " + std::to_string(i) + " goes back");
      last = at;
    }
    if (valid) FUZZ_CHECK(longqa::invalid_utf8_at(readable.text) == std::string::npos, "text is not UTF-8");
  } catch (const std::invalid_argument&) {
    // invalid UTF-8, refused
  }
  return 0;
}
