#include "longqa/pipeline.h"

#include <algorithm>
#include <stdexcept>

#include "longqa/common/stopwatch.h"
#include "longqa/common/utf8.h"
#include "longqa/postgres_store.h"
#include "longqa/text_encoder.h"

namespace longqa {

Pipeline::Pipeline(std::shared_ptr<const Reader> reader, std::shared_ptr<const retriever::Store> index,
                   retriever::RetrieverOptions retriever_options)
    : reader_(std::move(reader)), index_(std::move(index)) {
  if (!reader_) throw std::invalid_argument("Pipeline: no reader");
  if (!index_) throw std::invalid_argument("Pipeline: no index");
  retriever_ = std::make_shared<const retriever::Retriever>(*index_, retriever_options);
}

Pipeline Pipeline::open(const std::string& model_dir, const std::string& index_dir, ReaderOptions reader_options,
                        retriever::RetrieverOptions retriever_options, const std::string& encoder_dir) {
  std::string encoder = encoder_dir;
  if (encoder.empty()) encoder = retriever::recorded_encoder_path(index_dir);
  if (encoder.empty())
    throw std::invalid_argument(retriever::redact_connection_string(index_dir) +
                                ": the index records no encoder path; give the encoder directory");
  std::shared_ptr<const retriever::Store> index =
      retriever::open_store(index_dir, std::make_shared<const TextEncoder>(TextEncoder::load(encoder)));
  return Pipeline(std::make_shared<const Reader>(model_dir, reader_options), std::move(index), retriever_options);
}

Retrieval Pipeline::retrieve(const std::string& question, const AskOptions& options) const {
  if (options.top_k_documents < 1) throw std::invalid_argument("top_k_documents must be at least 1");
  Retrieval r;
  r.question = question;
  Stopwatch clock;
  // One embedding of the question serves the dense search and the passage prior.
  const bool prior = reader_->options().passage_weight > 0;
  std::vector<float> embedding;
  if (prior || retriever_->options().mode != retriever::SearchMode::kBm25)
    embedding = retriever::question_embedding(*index_, question);
  const int64_t depth = std::max(options.top_k_documents, options.retrieve_depth);
  r.hits = retriever_->search_batch({question}, embedding.empty() ? nullptr : embedding.data(), depth).front();
  r.retrieve_ms = clock.ms();
  clock.restart();
  for (size_t i = 0; i < r.hits.size() && static_cast<int64_t>(r.documents.size()) < options.top_k_documents; ++i) {
    auto document = index_->document(r.hits[i].id);
    if (!document) continue;  // deleted since the search
    if (prior) r.relevance.push_back(retriever::passage_relevance(*index_, *document, embedding.data()));
    r.documents.push_back(std::move(*document));
    r.hit_of_document.push_back(i);
  }
  r.fetch_ms = clock.ms();
  return r;
}

ReadRequest Pipeline::read_request(const Retrieval& retrieval) {
  ReadRequest request;
  request.question = retrieval.question;
  for (const auto& d : retrieval.documents) request.documents.push_back(d.text);
  request.relevance = retrieval.relevance;
  return request;
}

PipelineResult Pipeline::answer(const Retrieval& retrieval, std::vector<Answer> read_answers, const AskOptions& options,
                                double read_ms, int64_t tokens) const {
  PipelineResult result;
  result.tokens = tokens;
  // The reader ranks answers across the documents of one request already (best first).
  for (auto& a : read_answers) {
    if (static_cast<int64_t>(result.answers.size()) >= options.top_k_answers) break;
    const auto d = static_cast<size_t>(a.document);
    if (d >= retrieval.documents.size()) throw std::logic_error("Pipeline::answer: an answer names no read document");
    const auto& document = retrieval.documents[d];
    PipelineAnswer p;
    p.text = std::move(a.text);
    p.score = a.score;
    p.passage_prior = a.passage_prior;
    p.document_id = document.id;
    p.title = document.title;
    p.document_rank = static_cast<int64_t>(retrieval.hit_of_document[d]);
    p.begin_char = a.begin_char, p.end_char = a.end_char;
    p.begin_byte = a.begin_byte, p.end_byte = a.end_byte;
    p.snippet = answer_snippet(document.text, a.begin_byte, a.end_byte, options.snippet_bytes);
    p.no_answer = a.no_answer;
    result.answers.push_back(std::move(p));
  }
  for (size_t i : retrieval.hit_of_document) result.documents.push_back(retrieval.hits[i]);
  result.timings.retrieve_ms = retrieval.retrieve_ms;
  result.timings.fetch_ms = retrieval.fetch_ms;
  result.timings.read_ms = read_ms;
  result.timings.total_ms = retrieval.retrieve_ms + retrieval.fetch_ms + read_ms;
  return result;
}

PipelineResult Pipeline::ask(const std::string& question, const AskOptions& options) const {
  const Retrieval retrieval = retrieve(question, options);
  if (retrieval.documents.empty()) return answer(retrieval, {}, options);
  const ReadRequest request = read_request(retrieval);
  const int64_t tokens = reader_->count_tokens(request);
  Stopwatch clock;
  auto answers = reader_->read(request);
  return answer(retrieval, std::move(answers), options, clock.ms(), tokens);
}

std::string answer_snippet(const std::string& text, int64_t begin_byte, int64_t end_byte, int64_t bytes) {
  int64_t from = std::max<int64_t>(0, begin_byte - bytes);
  int64_t to = std::min<int64_t>(static_cast<int64_t>(text.size()), end_byte + bytes);
  while (!is_char_boundary(text, from)) ++from;
  while (!is_char_boundary(text, to)) --to;
  return text.substr(static_cast<size_t>(from), static_cast<size_t>(std::max<int64_t>(0, to - from)));
}

}  // namespace longqa
