// Extractive-QA datasets and prediction files in their official JSON layouts:
//   squad     SQuAD 1.1/2.0 and KorQuAD 1.0:
//             data[].paragraphs[].{context, qas[].{id, question, answers[{text, answer_start}],
//             is_impossible?}}
//   korquad2  KorQuAD 2.x: data[].{title, url, context (HTML), raw_html,
//             qas[].{id, question, answer{text, answer_start, html_answer_start, html_answer_text}}}
// Predictions are {question_id: answer_text}, as the official scripts read them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
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

struct QaDocument {
  std::string id;       // squad: "<title>#<paragraph index>"; korquad2: the title
  std::string title;
  std::string context;  // korquad2: the cleaned HTML page
  std::size_t article_index = 0;  // index in the file's data[] (after merging, in the merged list)
};

struct QaQuestion {
  std::string id;
  std::string question;
  std::size_t document_index = 0;
  std::vector<QaAnswer> answers;  // korquad2: exactly one
  bool is_impossible = false;      // SQuAD 2.0
};

struct QaDataset {
  DatasetFormat format = DatasetFormat::squad;
  std::string version;  // the top-level "version", empty when absent
  std::vector<QaDocument> documents;
  std::vector<QaQuestion> questions;
  // One line per answer whose answer_start does not slice the context to its text,
  // naming the file and JSON path; the data is kept as it is.
  std::vector<std::string> warnings;
};

// Parses one dataset; `source` names it in errors ("<source>: data[3].qas[0].id: ...").
// Throws std::runtime_error for malformed input (bad JSON, missing fields, wrong types).
QaDataset parse_qa_dataset(std::string_view json_text, const std::string& source);
// A file, or a directory whose files ending in "json" are read in name order and
// concatenated (the way evaluate-2.0.py takes its dataset argument).
QaDataset read_qa_dataset(const std::filesystem::path& path);

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
