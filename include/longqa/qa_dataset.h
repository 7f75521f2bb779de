// Extractive-QA datasets and prediction files in their official JSON layouts:
//   squad     SQuAD 1.1/2.0 and KorQuAD 1.0:
//             data[].paragraphs[].{context, qas[].{id, question, answers[{text, answer_start}],
//             is_impossible?}}
//   korquad2  KorQuAD 2.x: data[].{title, url, context (HTML), raw_html,
//             qas[].{id, question, answer{text, answer_start, html_answer_start, html_answer_text}}}
// Predictions are {question_id: answer_text}, as the official scripts read them. One reader
// for the evaluation and for `longqa index build` (QaReadMode), with one document-id scheme.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace longqa::eval {

enum class DatasetFormat { squad, korquad2 };
const char* to_string(DatasetFormat format);

struct QaAnswer {
  std::string text;
  int64_t answer_start = 0;  // code points into the context, as in the file
  // Byte offsets into the context's UTF-8 of answer_start and of answer_start plus the
  // answer's length in code points; npos where that falls outside the context.
  std::size_t byte_start = std::string::npos;
  std::size_t byte_end = std::string::npos;
  bool matches_context = false;  // context[answer_start : answer_start + len(text)] == text
};

// Document ids are the ones `longqa index build` gives the documents it makes from the same
// file (longqa/corpus.h), so a retrieved document names its gold:
//   article id  the article's title; a missing or empty title reads as the untitled name
//               (QaReadOptions), and a title seen before in the file, or equal to that name,
//               gets "#a<article index>" appended: "Seoul", "Seoul#a2", "dev#a7"
//   squad       "<article id>#p<paragraph index>", the index into the article's paragraphs[]
//   korquad2    "<article id>"
struct QaDocument {
  std::string id;
  std::string article_id;
  std::string title;    // as in the file; empty when missing
  std::string context;  // korquad2: the cleaned HTML page
  std::size_t article_index = 0;    // index in the file's data[] (after merging, in the merged list)
  std::size_t paragraph_index = 0;  // squad: index in the article's paragraphs[]; korquad2: 0
  std::optional<std::string> url;   // korquad2: the page's "url" when it is a string
};

struct QaQuestion {
  std::string id;
  std::string question;
  std::size_t document_index = 0;
  std::vector<QaAnswer> answers;  // korquad2: exactly one
  bool is_impossible = false;      // SQuAD 2.0
};

// An entry a corpus-mode read skipped, or why it could not read the file at all.
struct QaSkipped {
  std::string json_path;  // "data[3]", "data[1].paragraphs[0]"; empty: the whole file
  std::string message;
  std::size_t article_index = 0, paragraph_index = 0;  // where it was (0 for whole-file problems)
  std::size_t byte_offset = std::string::npos;  // invalid JSON: where in the text; npos otherwise
};

struct QaDataset {
  DatasetFormat format = DatasetFormat::squad;
  std::string version;  // the top-level "version", empty when absent
  std::vector<QaDocument> documents;  // in file order: by article, then paragraph
  std::vector<QaQuestion> questions;
  // One line per answer whose answer_start does not slice the context to its text,
  // naming the file and JSON path; the data is kept as it is.
  std::vector<std::string> warnings;
  std::vector<QaSkipped> skipped;  // QaReadMode::corpus only, in file order
};

enum class QaReadMode {
  // Every field the official scripts read must be there; the first malformed value throws
  // std::runtime_error naming the source and its JSON path.
  evaluation,
  // Contexts only, as a corpus (`longqa index build`): "qas" are not read; the layout is
  // told by data[0] holding "paragraphs" (squad) or "context" (korquad2); a non-string
  // title reads as missing; nothing throws: an article without a "paragraphs" array, a
  // paragraph without a non-empty (not all-whitespace) string "context", a korquad2 entry
  // without a string "context", invalid JSON and an unrecognised layout are listed in
  // QaDataset::skipped, and the rest is read.
  corpus,
};

struct QaReadOptions {
  QaReadMode mode = QaReadMode::evaluation;
  // Stands in for a missing title in article ids; empty: the source's file name without
  // its extension ("dev" for ".../dev.json").
  std::string untitled_name;
};

// Parses one dataset; `source` names it in errors ("<source>: data[3].qas[0].id: ...").
// Throws std::runtime_error for malformed input (bad JSON, missing fields, wrong types)
// in evaluation mode.
QaDataset parse_qa_dataset(std::string_view json_text, const std::string& source, const QaReadOptions& options = {});
// A file, or a directory whose files ending in "json" are read in name order and
// concatenated (the way evaluate-2.0.py takes its dataset argument); each file's own name
// is its untitled name unless options give one.
QaDataset read_qa_dataset(const std::filesystem::path& path, const QaReadOptions& options = {});

// An article as one document: its paragraphs' contexts in file order joined by "\n\n" (no
// separator while the text so far is empty), as `longqa eval --unit article`, `longqa index
// build --unit article` and bench/make_long_documents.py join them; korquad2: the page.
struct ArticleText {
  std::string id;     // the article id (QaDocument::article_id); empty when it has no documents
  std::string title;
  std::string text;
  std::vector<std::size_t> paragraph_starts;  // byte offset in text of each of its documents, in order
  std::size_t first_document = 0;             // its documents are [first_document, + paragraph_starts.size())
};
// Expects documents in file order (as read); an article without documents gives an empty one.
ArticleText article_text(const QaDataset& dataset, std::size_t article_index);

// Articles [begin, end) of a dataset, as "BEGIN:END" (either side may be empty: "16:" is
// article 16 to the end); "" is every article. Throws std::invalid_argument otherwise.
struct ArticleRange {
  std::size_t begin = 0, end = SIZE_MAX;
};
ArticleRange parse_article_range(std::string_view spec);
// The questions of the articles in the range; documents are all kept, so indexes stay valid.
QaDataset select_articles(QaDataset data, ArticleRange range);

using PredictionMap = std::map<std::string, std::string, std::less<>>;

PredictionMap parse_predictions(std::string_view json_text, const std::string& source);
PredictionMap read_predictions(const std::filesystem::path& path);
std::string dump_predictions(const PredictionMap& predictions);  // UTF-8 JSON, keys sorted
void write_predictions(const std::filesystem::path& path, const PredictionMap& predictions);

}  // namespace longqa::eval
