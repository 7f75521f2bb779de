// Corpus ingestion: files of many formats -> documents, and documents -> passages.
// No torch here.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace longqa::retriever {

struct Document {
  std::string id;             // stable id (from the record, or derived from file path / article index)
  std::string title;
  std::string text;           // plain UTF-8 text the reader reads
  std::string metadata_json;  // JSON object text ("{}" when none)
  std::string source;         // where it came from: "path:line" or "path#article/paragraph"
  // For documents made from HTML: byte offset into the original HTML of each byte of
  // `text` (plus one entry for the end), so answers map back; empty otherwise.
  std::vector<int64_t> html_offsets;
};

// A bad record: where and what. Ingestion reports these; it never drops one silently.
struct IngestError {
  std::string source;   // "path:line" (or path and JSON path)
  std::string message;
};

enum class SquadUnit { kParagraph, kArticle };

struct IngestOptions {
  SquadUnit squad_unit = SquadUnit::kParagraph;  // SQuAD/KorQuAD 1.0: each context, or each whole article
  bool fail_on_error = false;  // throw on the first bad record instead of reporting and skipping it
  std::vector<std::string> extensions = {".jsonl", ".json", ".txt", ".md", ".markdown", ".html", ".htm"};
};

// Reads files or folders (recursively, in sorted order) of: JSONL lines {id, title, text, metadata};
// .txt/.md files (one document each, title from the first heading/line); SQuAD/KorQuAD 1.0 JSON;
// KorQuAD 2.x JSON (HTML contexts → text with tables and lists kept readable). Calls `sink` for
// each document and `on_error` for each bad record (or throws when fail_on_error).
void ingest(const std::vector<std::string>& paths, const IngestOptions& options,
            const std::function<void(Document&&)>& sink, const std::function<void(const IngestError&)>& on_error);

// HTML -> readable text: tags dropped, block elements become line breaks, table cells
// separated by " | " and rows by newlines, list items on their own lines, entities decoded.
struct HtmlText {
  std::string text;
  std::vector<int64_t> html_offsets;  // as Document::html_offsets
};
HtmlText html_to_text(const std::string& html);

// Passages for retrieval: windows of `window_tokens` tokens overlapping by `overlap_tokens`,
// cut at token boundaries of the given tokenization (byte ranges into the text).
struct Passage {
  int64_t index;        // position within its document
  int64_t begin, end;   // byte range into the document text
};
std::vector<Passage> split_passages(const std::vector<std::pair<int64_t, int64_t>>& token_bytes, int64_t window_tokens,
                                    int64_t overlap_tokens);

}  // namespace longqa::retriever
