// The official extractive-QA metrics, reproduced exactly in C++ (no Python, no torch):
//   squad_v1    SQuAD v1.1 evaluate-v1.1.py: lower, drop ASCII punctuation, drop the
//               words a/an/the, collapse whitespace; token-level F1.
//   korquad_v1  KorQuAD 1.0 evaluate-v1.0.py: quotes/brackets to spaces, lower, drop
//               ASCII punctuation, collapse whitespace; character-level F1.
//   korquad_v2  KorQuAD 2.0 evaluate-2.0.py: HTML to text (BeautifulSoup get_text with
//               html.parser), then as korquad_v1 but with all whitespace removed.
// Strings are UTF-8. Everything works on code points with Python 3's str rules
// (str.lower with SpecialCasing and Final_Sigma, str.split on Python's whitespace,
// re's Unicode \b). Character properties come from utf8proc, so characters assigned
// after the Unicode version of the reference Python may differ.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "longqa/qa_dataset.h"

namespace longqa::eval {

enum class MetricKind { squad_v1, korquad_v1, korquad_v2 };

// "squad_v1", "korquad_v1", "korquad_v2"; throws std::invalid_argument otherwise.
MetricKind parse_metric_kind(std::string_view name);
const char* to_string(MetricKind kind);
// The metric a dataset is scored with by default: korquad2 -> korquad_v2; squad layout ->
// korquad_v1 when its version starts with "KorQuAD" (KorQuAD 1.0), else squad_v1.
MetricKind default_metric(const QaDataset& dataset);

// Raised for markup on which Python's html.parser raises AssertionError (for example
// "<![foo]>" or "<![ x]>"); the official KorQuAD 2.0 script stops with that error too.
class HtmlParseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The scripts' normalize_answer(). Throws std::invalid_argument on invalid UTF-8.
// korquad_v2 output can hold a lone surrogate (only from a character reference such
// as "&#xD800;"), written as three bytes like Python's "surrogatepass".
std::string normalize(MetricKind kind, std::string_view text);
std::u32string normalize_code_points(MetricKind kind, std::u32string_view text);

// BeautifulSoup(markup).get_text() with html.parser: tags dropped, entities and
// character references decoded, comments/doctype/processing instructions and the text
// of script, style, template, rt and rp dropped, CDATA kept.
std::string html_get_text(std::string_view markup);

// Best score over the gold answers, as metric_max_over_ground_truths. The official
// scripts fail on an empty gold list; so do these (std::invalid_argument).
bool exact_match(MetricKind kind, std::string_view prediction, const std::vector<std::string>& golds);
double f1(MetricKind kind, std::string_view prediction, const std::vector<std::string>& golds);

struct QuestionScore {
  bool answered = false;  // a prediction exists for the question
  bool exact_match = false;
  double f1 = 0.0;
};

struct Evaluation {
  double exact_match = 0.0;  // mean over all questions x 100; missing predictions count 0
  double f1 = 0.0;
  std::size_t total = 0;     // questions in the dataset
  std::size_t answered = 0;  // questions with a prediction
};

// Per-question scores, in dataset order.
std::vector<QuestionScore> score_questions(MetricKind kind, const QaDataset& dataset,
                                            const PredictionMap& predictions);
// The scripts' evaluate(): sums in dataset order, then 100 x sum / total. Throws
// std::invalid_argument for an empty dataset (the scripts divide by zero).
Evaluation evaluate(MetricKind kind, const QaDataset& dataset, const PredictionMap& predictions);

}  // namespace longqa::eval
