// What the files of corpus ingestion share (private to retriever/): corpus.cpp walks files and
// dispatches by format, html_text.cpp converts HTML, qa_corpus.cpp reads SQuAD/KorQuAD JSON.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>

#include "longqa/corpus.h"

namespace longqa::retriever::detail {

inline std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// 1-based line of a byte offset.
inline int64_t line_of(const std::string& text, size_t offset) {
  return 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(std::min(offset, text.size())), '\n');
}

// The readable text of an HTML page's <title>; empty when it has none.
std::string html_title_text(const std::string& html);

// Reports a bad record: its source ("path", "path:line", "path#data[3]") and what is wrong.
using IngestErrorFn = std::function<void(std::string source, std::string message)>;

// Documents of a SQuAD/KorQuAD 1.0 or KorQuAD 2.x JSON file (`content`, valid UTF-8, from
// `path`; `stem` names untitled articles), in file order, errors in between where they occur.
void ingest_qa_json(const std::string& path, const std::string& stem, const std::string& content, SquadUnit unit,
                    const std::function<void(Document&&)>& sink, const IngestErrorFn& error);

}  // namespace longqa::retriever::detail
