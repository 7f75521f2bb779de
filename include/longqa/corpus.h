// Corpus ingestion: files of many formats -> documents, and documents -> passages.
// No torch here.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace longqa::retriever {

// Ids: JSONL: the record's "id" (string or integer), else "<name>:<line>"; text, markdown
// and HTML files: <name> with extension; SQuAD/KorQuAD 1.0: "<title>#p<k>" per paragraph k,
// "<title>" per article; KorQuAD 2.x: "<title>". <name> is the file's path relative to the
// folder given (or its file name when the file itself was given), without extension for
// JSONL; a missing or repeated article title (or one equal to <name>) becomes
// "<title or name>#a<i>" (article index i). SQuAD/KorQuAD files are read by eval's dataset
// reader (longqa/qa_dataset.h, QaReadMode::corpus), so these ids equal QaDocument::id
// (paragraphs) and QaDocument::article_id (articles, KorQuAD 2.x pages) for the same file.
struct Document {
  std::string id;             // stable id (see above)
  std::string title;
  std::string text;           // plain UTF-8 text the reader reads
  // JSON object text ("{}" when none): the JSONL record's metadata; SQuAD {"article",
  // "paragraph"} or, per article, {"article", "paragraph_starts": byte offsets in text};
  // KorQuAD 2.x {"url"}.
  std::string metadata_json;
  // Where it came from: "path:line" (JSONL), "path" (files), "path#article/paragraph" or
  // "path#article" (SQuAD/KorQuAD JSON, 0-based indices).
  std::string source;
  // For documents made from HTML (a KorQuAD 2.x "context", an .html file's bytes): byte offset
  // into that HTML of each byte of `text` (plus one entry for the end), so answers map back;
  // empty otherwise.
  std::vector<int64_t> html_offsets;
};

// A bad record: where and what. Ingestion reports these; it never drops one silently.
struct IngestError {
  std::string source;   // "path:line", "path" or "path#data[3].paragraphs[2]" (a JSON path)
  std::string message;
};

enum class SquadUnit { kParagraph, kArticle };

struct IngestOptions {
  SquadUnit squad_unit = SquadUnit::kParagraph;  // SQuAD/KorQuAD 1.0: each context, or each whole article
  bool fail_on_error = false;  // throw on the first bad record instead of reporting and skipping it
  std::vector<std::string> extensions = {".jsonl", ".json", ".txt", ".md", ".markdown", ".html", ".htm"};
};

// Reads files or folders (recursively, in sorted order of relative path; only files with one of
// `extensions`, hidden entries skipped; a file named directly is read whatever `extensions` says) of:
// JSONL lines {id, title, text, metadata} (text required, non-empty); .txt/.md files (one
// document each, title from the first heading/line); SQuAD/KorQuAD 1.0 JSON; KorQuAD 2.x JSON
// (HTML contexts → text with tables and lists kept readable); .html/.htm pages (title from
// <title>). Calls `sink` for each document and `on_error` for each bad record, invalid UTF-8
// and unreadable or unknown file included; with fail_on_error (or no on_error) the first one
// throws std::runtime_error("source: message") instead.
void ingest(const std::vector<std::string>& paths, const IngestOptions& options,
            const std::function<void(Document&&)>& sink, const std::function<void(const IngestError&)>& on_error);

// HTML -> readable text, for retrieval and reading (the scorer's BeautifulSoup get_text is
// another function: longqa::eval::html_get_text, longqa/qa_metrics.h): tags, comments and
// script/style/title/noscript/template content dropped; block elements and <br> become line breaks; table cells separated by " | " (empty
// cells collapse) and rows by newlines, a row kept on one line; list items on their own lines
// as "- " (indented two spaces per nesting level); entities decoded (HTML5's names, the table
// of longqa/common/html_entities.h, each needing its ';' here; numeric ones may omit it;
// &nbsp; acts as a space); whitespace runs collapse to one space except in <pre>.
// Offsets: copied bytes map to themselves, decoded entities to their '&', a collapsed space to
// its first whitespace byte, an inserted separator or prefix to the '<' of the tag that caused
// it; the end entry is just past the source of the last text byte (0 for empty text).
struct HtmlText {
  std::string text;
  std::vector<int64_t> html_offsets;  // as Document::html_offsets
};
HtmlText html_to_readable_text(const std::string& html);

// Passages for retrieval: windows of `window_tokens` tokens overlapping by `overlap_tokens`,
// cut at token boundaries of the given tokenization (byte ranges into the text); the last
// window ends at the last token, so every token is in one. No tokens: no passages. Throws
// std::invalid_argument unless window_tokens > 0 and 0 <= overlap_tokens < window_tokens.
struct Passage {
  int64_t index;        // position within its document
  int64_t begin, end;   // byte range into the document text
};
std::vector<Passage> split_passages(const std::vector<std::pair<int64_t, int64_t>>& token_bytes, int64_t window_tokens,
                                    int64_t overlap_tokens);

}  // namespace longqa::retriever
