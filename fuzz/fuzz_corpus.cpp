// Corpus ingestion as `longqa index build` runs it: the bytes become one file whose type the
// first byte picks (JSONL, text, Markdown, SQuAD/KorQuAD JSON, HTML). Nothing may crash; every
// bad record is reported (to on_error), never thrown past it; documents are valid UTF-8 with
// HTML offsets that fit.
#include <string>

#include "fuzz_util.h"
#include "longqa/common/utf8.h"
#include "longqa/corpus.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* const kExtensions[] = {".jsonl", ".txt", ".md", ".json", ".html"};
  const auto path = fuzz::scratch() / (std::string("corpus") + kExtensions[data[0] % 5]);
  fuzz::write_file(path, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  longqa::retriever::IngestOptions options;
  options.squad_unit = data[0] & 0x80 ? longqa::retriever::SquadUnit::kArticle : longqa::retriever::SquadUnit::kParagraph;
  longqa::retriever::ingest(
      {path.string()}, options,
      [](longqa::retriever::Document&& d) {
        FUZZ_CHECK(longqa::invalid_utf8_at(d.text) == std::string::npos, d.source + ": text is not UTF-8");
        FUZZ_CHECK(longqa::invalid_utf8_at(d.id) == std::string::npos, d.source + ": id is not UTF-8");
        FUZZ_CHECK(d.html_offsets.empty() || d.html_offsets.size() == d.text.size() + 1, d.source + ": offsets");
      },
      [](const longqa::retriever::IngestError&) {});
  return 0;
}
