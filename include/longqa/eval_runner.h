// The evaluation loop: a reader (or the whole pipeline, open-domain) over a SQuAD/KorQuAD
// dataset, scored exactly as the official scripts score it, with speed, memory and — in
// open-domain mode — retriever recall. `longqa eval` is a thin wrapper; a benchmark or a
// user's C++ calls run_evaluation() directly.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "longqa/pipeline.h"
#include "longqa/qa_dataset.h"
#include "longqa/qa_metrics.h"
#include "longqa/reader.h"

namespace longqa::eval {

enum class EvalUnit { kParagraph, kArticle };
EvalUnit parse_eval_unit(const std::string& name);  // "paragraph" or "article"
const char* to_string(EvalUnit unit);

struct EvaluationOptions {
  // paragraph: each question reads its context; article: its whole article (paragraphs
  // joined by blank lines). Open-domain: which unit the index was built with.
  EvalUnit unit = EvalUnit::kParagraph;
  std::optional<MetricKind> metric;  // default: default_metric(dataset)
  // Open-domain only: documents read per question, and recall measured up to this depth.
  int64_t top_k_documents = 5;
  int64_t recall_depth = 20;
  bool show_progress = true;  // a progress line on stderr
  // Without an index: a text encoder (the retriever's) that scores each document's passages,
  // cut as an index with `passage_options` would cut them, against the question, for the
  // reader's passage prior (ReaderOptions::passage_weight). Null: no prior. Open-domain runs
  // take the prior from the index instead.
  std::shared_ptr<const TextEncoder> passage_encoder;
  retriever::IndexOptions passage_options;
};

// One question's outcome, in dataset order.
struct QuestionRecord {
  std::string id;
  int64_t tokens = 0;     // question + document tokens read
  int64_t documents = 0;  // documents read
  double read_ms = 0, retrieve_ms = 0;
  int64_t gold_rank = 0;  // open-domain: 1-based rank of the gold document, 0 = not within recall_depth
  std::vector<Answer> answers;  // the reader's n best (document = position among those read)
  bool exact_match = false;
  double f1 = 0;
};

struct EvaluationRun {
  MetricKind metric = MetricKind::squad_v1;
  EvalUnit unit = EvalUnit::kParagraph;
  Evaluation score;  // the official EM/F1
  PredictionMap predictions;  // {question id: best answer text}, the official format
  std::vector<QuestionRecord> questions;
  double retrieve_ms = 0, read_ms = 0, score_ms = 0, seconds = 0;  // seconds: the whole loop
  int64_t tokens_read = 0;
  bool open_domain = false;
  int64_t top_k_documents = 0;
  std::map<int64_t, double> recall;  // open-domain: recall@k for k in 1, 5, 10, 20, 50, 100, top_k_documents (<= depth)

  // exact_match, f1, questions, unit, metric, timings_ms, questions_per_second, tokens_read,
  // tokens_per_second, and open_domain {top_k_documents, recall} when open-domain.
  nlohmann::json summary_json() const;
  // {question id: [answers as answer_json renders them]}.
  nlohmann::json nbest_json() const;
  // One JSON object per question: id, tokens, documents, read_ms, [retrieve_ms, gold_rank], exact_match, f1.
  nlohmann::json question_json(size_t i) const;
};

// Each question reads its own context (or article).
EvaluationRun run_evaluation(const QaDataset& data, const Reader& reader, const EvaluationOptions& options);
// Open-domain: each question reads the documents the pipeline retrieves from an index built
// from the same dataset file (`longqa index build --corpus FILE --unit UNIT`); a retrieved
// document holds the gold when its metadata names the question's article (and paragraph).
EvaluationRun run_evaluation(const QaDataset& data, const Pipeline& pipeline, const EvaluationOptions& options);

// The first `limit` questions (0 = all), then `sample` of them spread evenly (question
// floor(i * total / sample) for i < sample; 0 = all).
QaDataset select_questions(QaDataset data, int64_t limit, int64_t sample);

}  // namespace longqa::eval
