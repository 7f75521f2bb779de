// The evaluation loop (longqa/eval_runner.h).
#include "longqa/eval_runner.h"

#include <ATen/core/Tensor.h>
#include <sys/resource.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_map>

#include "longqa/answer_json.h"
#include "longqa/common/progress.h"
#include "longqa/common/stopwatch.h"
#include "longqa/retriever.h"
#include "longqa/text_encoder.h"
#include "longqa/tokenizer.h"

namespace longqa::eval {
namespace {

using nlohmann::json;

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: KiB
}

// Where a retrieved or gold document sits in the dataset: its article, and its paragraph
// within the article (-1 for a whole article).
struct Place {
  int64_t article = -1, paragraph = -1;
};

// Each dataset document's place (the indices `longqa index build` stores as metadata).
Place place_of(const QaDocument& d) {
  return {static_cast<int64_t>(d.article_index), static_cast<int64_t>(d.paragraph_index)};
}

// Open-domain: what each retrieved document is (from the metadata the corpus reader stored)
// and its text, cached across questions.
class RetrievedDocuments {
 public:
  RetrievedDocuments(const retriever::Store& index, EvalUnit unit, DatasetFormat format)
      : index_(index), unit_(unit), format_(format) {}

  // Does document `id` hold the gold of a question whose own document is `gold`?
  // KorQuAD 2.x documents are whole pages named by their title; SQuAD-format ones carry
  // {"article", "paragraph"} (paragraph unit) or {"article", "paragraph_starts"} (article).
  bool holds(const std::string& id, const QaDocument& gold_document, const Place& gold) {
    if (format_ == DatasetFormat::korquad2) return id == gold_document.id;
    const Place& p = place(id);
    return p.article == gold.article && (unit_ == EvalUnit::kArticle || p.paragraph == gold.paragraph);
  }

 private:
  const Place& place(const std::string& id) {
    if (auto it = places_.find(id); it != places_.end()) return it->second;
    auto document = index_.document(id);
    if (!document)
      throw std::runtime_error(index_.info().location + ": the retriever returned document '" + id + "', which it does not hold");
    const json metadata = json::parse(document->metadata_json, nullptr, /*allow_exceptions=*/false);
    const bool paragraph_unit = metadata.is_object() && metadata.contains("paragraph");
    const bool article_unit = metadata.is_object() && metadata.contains("paragraph_starts");
    if (!metadata.is_object() || !metadata.contains("article") || (!paragraph_unit && !article_unit))
      throw std::invalid_argument(index_.info().location + ": document '" + id + "' was not made from a SQuAD-format file "
                                  "(no article/paragraph metadata); build the index from the --data file");
    if (paragraph_unit != (unit_ == EvalUnit::kParagraph))
      throw std::invalid_argument(index_.info().location + ": the index holds " + (paragraph_unit ? "paragraphs" : "articles") +
                                  " but the unit is " + to_string(unit_) + "; build it with `longqa index build --unit " +
                                  to_string(unit_) + "`");
    Place p{metadata["article"].get<int64_t>(), paragraph_unit ? metadata["paragraph"].get<int64_t>() : -1};
    return places_.emplace(id, p).first->second;
  }

  const retriever::Store& index_;
  EvalUnit unit_;
  DatasetFormat format_;
  std::unordered_map<std::string, Place> places_;
};

// The shared loop; `pipeline` is null for reading each question's own document.
EvaluationRun run(const QaDataset& data, const Reader& reader, const Pipeline* pipeline, const EvaluationOptions& options) {
  if (data.questions.empty()) throw std::invalid_argument("the dataset has no questions to evaluate");
  if (pipeline && options.top_k_documents < 1) throw std::invalid_argument("top_k_documents must be at least 1");
  EvaluationRun run;
  run.metric = options.metric ? *options.metric : default_metric(data);
  run.unit = options.unit;
  run.open_domain = pipeline != nullptr;
  run.top_k_documents = pipeline ? options.top_k_documents : 1;
  const int64_t recall_depth = std::max(options.recall_depth, options.top_k_documents);

  std::map<size_t, std::string> articles;  // whole-article texts, by article index
  if (!pipeline && options.unit == EvalUnit::kArticle)
    for (const auto& d : data.documents)
      if (!articles.count(d.article_index)) articles[d.article_index] = article_text(data, d.article_index).text;
  std::unique_ptr<RetrievedDocuments> retrieved;
  if (pipeline) retrieved = std::make_unique<RetrievedDocuments>(pipeline->index(), options.unit, data.format);

  // Tokens of each dataset document (the question's are added per question): whole articles
  // are read by many questions, so they are counted once. Keys are addresses into `data` and
  // `articles`, which outlive the loop.
  std::unordered_map<const std::string*, int64_t> document_tokens;
  const Tokenizer& tokenizer = reader.tokenizer();
  auto tokens_of = [&](const std::string& text) {
    auto [it, added] = document_tokens.emplace(&text, 0);
    if (added) it->second = static_cast<int64_t>(tokenizer.tokenize(text).size());
    return it->second;
  };

  // The passage prior without an index: each document's passages encoded once (articles are
  // read by many questions), each question encoded as it comes.
  const bool prior = !pipeline && options.passage_encoder && reader.options().passage_weight > 0;
  std::unordered_map<const std::string*, retriever::EncodedDocuments> encoded_documents;
  auto relevance_of = [&](const std::string& question, const std::string& title, const std::string& text) {
    const TextEncoder& encoder = *options.passage_encoder;
    auto [it, added] = encoded_documents.try_emplace(&text);
    if (added) {
      retriever::Document document;
      document.title = title;
      document.text = text;
      it->second = retriever::split_and_encode(encoder, options.passage_options, {std::move(document)});
    }
    const at::Tensor q = encoder.encode({question}).contiguous();
    return retriever::passage_relevance(it->second.items.front().passages, it->second.vectors.data(),
                                        encoder.dimension(), q.data_ptr<float>());
  };

  AskOptions ask;
  ask.top_k_documents = options.top_k_documents;
  ask.retrieve_depth = recall_depth;
  Progress progress("questions", static_cast<int64_t>(data.questions.size()));
  Stopwatch loop;
  for (const auto& q : data.questions) {
    QuestionRecord record;
    record.id = q.id;
    const auto& gold = data.documents[q.document_index];
    Stopwatch clock;
    Retrieval retrieval;
    ReadRequest request{q.question, {}};
    int64_t tokens = 0;
    if (pipeline) {
      retrieval = pipeline->retrieve(q.question, ask);
      for (size_t r = 0; r < retrieval.hits.size() && record.gold_rank == 0; ++r)
        if (retrieved->holds(retrieval.hits[r].id, gold, place_of(gold)))
          record.gold_rank = static_cast<int64_t>(r) + 1;
      request = Pipeline::read_request(retrieval);
    } else {
      const std::string& text = options.unit == EvalUnit::kArticle ? articles[gold.article_index] : gold.context;
      request.documents.push_back(text);
      if (prior) request.relevance.push_back(relevance_of(q.question, gold.title, text));
      tokens = static_cast<int64_t>(tokenizer.tokenize(q.question).size()) + tokens_of(text);
    }
    record.retrieve_ms = clock.ms();
    if (pipeline) tokens = reader.count_tokens(request);  // new texts each question: no cache by address
    clock.restart();
    record.answers = reader.read(request);
    record.read_ms = clock.ms();
    record.tokens = tokens;
    record.documents = static_cast<int64_t>(request.documents.size());
    run.retrieve_ms += record.retrieve_ms;
    run.read_ms += record.read_ms;
    run.tokens_read += tokens;
    run.predictions[q.id] = record.answers.empty() ? "" : record.answers.front().text;
    run.questions.push_back(std::move(record));
    if (options.show_progress) progress.update(static_cast<int64_t>(run.questions.size()));
  }
  if (options.show_progress) progress.finish(static_cast<int64_t>(run.questions.size()));
  run.seconds = std::max(loop.seconds(), 1e-9);

  Stopwatch scoring;
  run.score = evaluate(run.metric, data, run.predictions);
  const auto scores = score_questions(run.metric, data, run.predictions);
  for (size_t i = 0; i < run.questions.size(); ++i) {
    run.questions[i].exact_match = scores[i].exact_match;
    run.questions[i].f1 = scores[i].f1;
  }
  run.score_ms = scoring.ms();
  if (pipeline) {
    for (int64_t k : {int64_t{1}, int64_t{5}, int64_t{10}, int64_t{20}, int64_t{50}, int64_t{100}, options.top_k_documents}) {
      if (k > recall_depth) continue;
      const auto found = std::count_if(run.questions.begin(), run.questions.end(),
                                       [k](const QuestionRecord& r) { return r.gold_rank >= 1 && r.gold_rank <= k; });
      run.recall[k] = static_cast<double>(found) / static_cast<double>(run.questions.size());
    }
  }
  return run;
}

}  // namespace

EvalUnit parse_eval_unit(const std::string& name) {
  if (name == "paragraph") return EvalUnit::kParagraph;
  if (name == "article") return EvalUnit::kArticle;
  throw std::invalid_argument("unit must be paragraph or article, not '" + name + "'");
}

const char* to_string(EvalUnit unit) { return unit == EvalUnit::kArticle ? "article" : "paragraph"; }

EvaluationRun run_evaluation(const QaDataset& data, const Reader& reader, const EvaluationOptions& options) {
  return run(data, reader, nullptr, options);
}

EvaluationRun run_evaluation(const QaDataset& data, const Pipeline& pipeline, const EvaluationOptions& options) {
  return run(data, pipeline.reader(), &pipeline, options);
}

QaDataset select_questions(QaDataset data, int64_t limit, int64_t sample) {
  if (limit > 0 && static_cast<int64_t>(data.questions.size()) > limit) data.questions.resize(static_cast<size_t>(limit));
  if (sample > 0 && static_cast<int64_t>(data.questions.size()) > sample) {
    std::vector<QaQuestion> kept;
    const auto n = static_cast<int64_t>(data.questions.size());
    for (int64_t i = 0; i < sample; ++i) kept.push_back(std::move(data.questions[static_cast<size_t>(i * n / sample)]));
    data.questions = std::move(kept);
  }
  return data;
}

json EvaluationRun::summary_json() const {
  json out = {{"exact_match", score.exact_match},
              {"f1", score.f1},
              {"questions", score.total},
              {"unit", to_string(unit)},
              {"metric", to_string(metric)},
              {"timings_ms", {{"retrieve", retrieve_ms}, {"read", read_ms}, {"score", score_ms}}},
              {"questions_per_second", static_cast<double>(questions.size()) / seconds},
              {"tokens_read", tokens_read},
              {"tokens_per_second", static_cast<double>(tokens_read) / seconds},
              {"peak_rss_mib", peak_rss_mib()}};
  if (open_domain) {
    json r = json::object();
    for (const auto& [k, v] : recall) r["@" + std::to_string(k)] = v;
    out["open_domain"] = {{"top_k_documents", top_k_documents}, {"recall", std::move(r)}};
  }
  return out;
}

json EvaluationRun::nbest_json() const {
  json out = json::object();
  for (const auto& q : questions) {
    json list = json::array();
    for (const auto& a : q.answers) list.push_back(to_json(a));
    out[q.id] = std::move(list);
  }
  return out;
}

json EvaluationRun::question_json(size_t i) const {
  const auto& q = questions.at(i);
  json record = {{"id", q.id}, {"tokens", q.tokens}, {"documents", q.documents}, {"read_ms", q.read_ms}};
  if (open_domain) record["retrieve_ms"] = q.retrieve_ms, record["gold_rank"] = q.gold_rank;
  record["exact_match"] = q.exact_match;
  record["f1"] = q.f1;
  return record;
}

}  // namespace longqa::eval
