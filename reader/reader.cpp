// The Reader: question and document in the tokenizer's pair template ([CLS] Q [SEP] D [SEP],
// <s> Q </s></s> D </s>, ...) through the QA model, in strided windows when the document is
// longer than one window, answers merged across windows
// and documents.
#include "longqa/reader.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>
#include <tuple>

#include "longqa/qa_model.h"
#include "longqa/tokenizer.h"
#include "qa_windows.h"

namespace longqa {
namespace {

// A window plus where it came from.
struct Window {
  size_t request, document;
  WindowSpan span;
};

struct Tokenized {
  std::vector<int32_t> question;
  std::vector<std::vector<Token>> documents;
  std::vector<std::vector<double>> priors;  // per document: token_priors (empty: none)
};

struct SpanScore {
  double score;
  int64_t start, end;  // token indices, start <= end
  bool operator>(const SpanScore& o) const { return score > o.score; }
};

// The `top` highest-scoring spans (start logit + prior of the start + end logit, start <= end <
// start + max_tokens) of one window, found exactly: every (start, end) pair is scored, starts
// that cannot beat the current top are skipped. `prior` (per start token) may be null.
std::vector<SpanScore> best_spans(const float* start, const float* end, const double* prior, int64_t n,
                                  int64_t max_tokens, int64_t top) {
  std::vector<SpanScore> heap;  // a min-heap of the best so far
  heap.reserve(static_cast<size_t>(top) + 1);
  const float best_end = n > 0 ? *std::max_element(end, end + n) : 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const double start_score = static_cast<double>(start[i]) + (prior ? prior[i] : 0.0);
    const bool full = static_cast<int64_t>(heap.size()) == top;
    if (full && start_score + best_end <= heap.front().score) continue;
    for (int64_t j = i; j < std::min(n, i + max_tokens); ++j) {
      const double score = start_score + end[j];
      if (static_cast<int64_t>(heap.size()) < top) {
        heap.push_back({score, i, j});
        std::push_heap(heap.begin(), heap.end(), std::greater<>());
      } else if (score > heap.front().score) {
        std::pop_heap(heap.begin(), heap.end(), std::greater<>());
        heap.back() = {score, i, j};
        std::push_heap(heap.begin(), heap.end(), std::greater<>());
      }
    }
  }
  return heap;
}

void check_options(const ReaderOptions& o) {
  auto require = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("reader option ") + what);
  };
  require(o.max_answer_tokens > 0, "max_answer_tokens must be > 0");
  require(o.n_best > 0, "n_best must be > 0");
  require(o.max_question_tokens > 0, "max_question_tokens must be > 0");
  require(o.window_tokens >= 0, "window_tokens must be >= 0 (0 = the model's maximum)");
  require(o.overlap_tokens >= -1, "overlap_tokens must be >= 0 (or -1 for a quarter of the window)");
  require(o.batch_windows > 0, "batch_windows must be > 0");
  require(o.batch_tokens > 0, "batch_tokens must be > 0");
  check_score_calibration(o.score_calibration);
  check_reader_dtype(o.dtype);
  require(std::isfinite(o.passage_weight) && o.passage_weight >= 0, "passage_weight must be a finite number >= 0");
}

// passage_weight x the relevance of each token's start (ReadRequest::relevance): the most
// relevant range holding the token's first byte, else the document's least relevant. Empty
// when the request gives no relevance for the document or the weight is 0.
std::vector<double> token_priors(const std::vector<Token>& tokens, const std::vector<PassageRelevance>& ranges,
                                 const std::string& document, double weight) {
  std::vector<double> priors;
  double lowest = INFINITY;
  for (const auto& r : ranges) {  // checked whatever the weight: a request valid at 0 is valid at 50
    if (r.begin_byte < 0 || r.begin_byte > r.end_byte || r.end_byte > static_cast<int64_t>(document.size()) ||
        !std::isfinite(r.relevance) || !std::isfinite(weight * r.relevance))
      throw std::invalid_argument("passage relevance [" + std::to_string(r.begin_byte) + ", " +
                                  std::to_string(r.end_byte) + ") = " + std::to_string(r.relevance) +
                                  " is not a finite score of a byte range of its document (" +
                                  std::to_string(document.size()) + " bytes)");
    lowest = std::min(lowest, r.relevance);
  }
  if (ranges.empty() || weight == 0) return priors;
  priors.assign(tokens.size(), weight * lowest);
  std::vector<bool> covered(tokens.size(), false);
  // Tokens are in byte order: each range covers a contiguous run of them.
  for (const auto& r : ranges) {
    auto first = std::lower_bound(tokens.begin(), tokens.end(), r.begin_byte,
                                  [](const Token& t, int64_t byte) { return t.begin < byte; });
    for (auto it = first; it != tokens.end() && it->begin < r.end_byte; ++it) {
      const auto k = static_cast<size_t>(it - tokens.begin());
      priors[k] = covered[k] ? std::max(priors[k], weight * r.relevance) : weight * r.relevance;
      covered[k] = true;
    }
  }
  return priors;
}

}  // namespace

Reader::Reader(const std::string& model_dir, ReaderOptions options)
    : Reader(std::make_shared<QaModel>(QaModel::load(model_dir)),
             std::make_shared<Tokenizer>(Tokenizer::from_directory(model_dir)), options) {}

Reader::Reader(std::shared_ptr<const QaModel> model, std::shared_ptr<const Tokenizer> tokenizer,
               ReaderOptions options)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), options_(options) {
  check_options(options_);
  if (options_.dtype == "int8") {
    if (!model_->is_int8()) model_ = std::make_shared<const QaModel>(model_->quantized_int8());
  } else if (!options_.dtype.empty()) {
    const at::ScalarType dtype = options_.dtype == "bfloat16" ? at::kBFloat16 : at::kFloat;
    if (model_->is_int8() || model_->parameters().begin()->second.scalar_type() != dtype)
      model_ = std::make_shared<const QaModel>(model_->converted(dtype));
  }
  if (tokenizer_->vocab_size() > model_->config().vocab_size)
    throw std::invalid_argument("tokenizer has " + std::to_string(tokenizer_->vocab_size()) +
                                " tokens but the model's vocab_size is " +
                                std::to_string(model_->config().vocab_size));
}

Reader::~Reader() = default;

std::vector<Answer> Reader::read(const std::string& question, const std::string& document) const {
  return read(ReadRequest{question, {document}});
}

std::vector<Answer> Reader::read(const ReadRequest& request) const { return read_batch({request}).front(); }

std::vector<std::vector<Answer>> Reader::read_batch(const std::vector<ReadRequest>& requests) const {
  c10::InferenceMode inference;
  const auto& config = model_->config();
  const int64_t model_max = config.max_window_tokens();
  const int64_t window_max = options_.window_tokens > 0 ? std::min(options_.window_tokens, model_max) : model_max;

  // Tokenize everything once; cut each document into windows.
  const PairTemplate pair = tokenizer_->pair_template();
  std::vector<Tokenized> tokenized(requests.size());
  std::vector<Window> windows;
  for (size_t r = 0; r < requests.size(); ++r) {
    if (!requests[r].relevance.empty() && requests[r].relevance.size() != requests[r].documents.size())
      throw std::invalid_argument("a read request has passage relevance for " + std::to_string(requests[r].relevance.size()) +
                                  " documents but " + std::to_string(requests[r].documents.size()) + " documents");
    auto& t = tokenized[r];
    t.documents.reserve(requests[r].documents.size());  // windows point into it
    t.priors.reserve(requests[r].documents.size());
    for (const auto& token : tokenizer_->tokenize(requests[r].question)) t.question.push_back(token.id);
    if (static_cast<int64_t>(t.question.size()) > options_.max_question_tokens)
      t.question.resize(options_.max_question_tokens);
    const auto layout =
        WindowLayout::make(window_max, static_cast<int64_t>(t.question.size()), options_.overlap_tokens, pair);
    for (size_t d = 0; d < requests[r].documents.size(); ++d) {
      t.documents.push_back(tokenizer_->tokenize(requests[r].documents[d]));
      const auto& doc = t.documents.back();
      t.priors.push_back(requests[r].relevance.empty()
                             ? std::vector<double>{}
                             : token_priors(doc, requests[r].relevance[d], requests[r].documents[d], options_.passage_weight));
      for (auto [begin, end] : layout.ranges(static_cast<int64_t>(doc.size())))
        windows.push_back({r, d, {&t.question, &doc, begin, end, &pair}});
    }
  }
  // Similar lengths share a batch, so little is spent on padding.
  std::stable_sort(windows.begin(), windows.end(),
                   [](const Window& a, const Window& b) { return a.span.length() < b.span.length(); });

  // Best score per distinct span (request, document, byte range); lowest null score per request.
  std::vector<std::map<std::tuple<size_t, int64_t, int64_t>, Answer>> spans(requests.size());
  std::vector<double> null_score(requests.size(), INFINITY);
  // The best span score without the passage prior, per request: what "no answer" must beat.
  std::vector<double> best_own_score(requests.size(), -INFINITY);
  const at::Device device = model_->parameters().begin()->second.device();
  const int64_t top = std::max<int64_t>(options_.n_best, 20);

  for (size_t first = 0, last = 0; first < windows.size(); first = last) {
    // Windows are sorted by length, so the last one taken is the longest: the batch pads to it.
    last = first + 1;
    while (last < windows.size() && static_cast<int64_t>(last + 1 - first) <= options_.batch_windows &&
           static_cast<int64_t>(last + 1 - first) * windows[last].span.length() <= options_.batch_tokens)
      ++last;
    const int64_t batch = static_cast<int64_t>(last - first);
    std::vector<WindowSpan> spans_in_batch;
    for (size_t w = first; w < last; ++w) spans_in_batch.push_back(windows[w].span);
    const auto input = make_window_batch(spans_in_batch, static_cast<int32_t>(config.pad_token_id), config.type_vocab_size);
    auto logits = model_->forward({input.input_ids.to(device), input.token_type_ids.to(device), input.valid.to(device)});
    auto start = logits.start.to(at::kCPU), end = logits.end.to(at::kCPU);

    for (int64_t b = 0; b < batch; ++b) {
      const Window& w = windows[first + b];
      const auto& doc = *w.span.document;
      const int64_t offset = w.span.document_offset();
      const int64_t len = w.span.end - w.span.begin;
      const auto s_row = start[b].narrow(0, offset, len).contiguous(), e_row = end[b].narrow(0, offset, len).contiguous();
      const double window_null = (start[b][0] + end[b][0]).item<double>();
      double shift = 0;  // what score_calibration subtracts from every span of this window
      if (options_.score_calibration == "null") {
        shift = window_null;
      } else if (options_.score_calibration == "softmax") {
        const int64_t n = w.span.length();
        shift = (at::logsumexp(start[b].narrow(0, 0, n), 0) + at::logsumexp(end[b].narrow(0, 0, n), 0)).item<double>();
      }
      null_score[w.request] = std::min(null_score[w.request], window_null - shift);
      const auto& priors = tokenized[w.request].priors[w.document];
      const double* prior = priors.empty() ? nullptr : priors.data() + w.span.begin;
      if (options_.allow_no_answer) {  // under a strong prior the best own score may rank below the top
        const auto own = best_spans(s_row.data_ptr<float>(), e_row.data_ptr<float>(), nullptr, len,
                                    options_.max_answer_tokens, 1);
        if (!own.empty()) best_own_score[w.request] = std::max(best_own_score[w.request], own.front().score - shift);
      }
      for (auto span : best_spans(s_row.data_ptr<float>(), e_row.data_ptr<float>(), prior, len,
                                  options_.max_answer_tokens, top)) {
        span.score -= shift;
        const Token& first_token = doc[w.span.begin + span.start];
        const Token& last_token = doc[w.span.begin + span.end];
        auto key = std::make_tuple(w.document, first_token.begin, last_token.end);
        auto [it, inserted] = spans[w.request].try_emplace(key);
        if (inserted || span.score > it->second.score) {
          it->second.score = span.score;
          it->second.passage_prior = prior ? prior[span.start] : 0.0;
          it->second.begin_byte = first_token.begin;
          it->second.end_byte = last_token.end;
          it->second.document = static_cast<int64_t>(w.document);
        }
      }
    }
  }

  std::vector<std::vector<Answer>> results(requests.size());
  for (size_t r = 0; r < requests.size(); ++r) {
    auto& answers = results[r];
    for (auto& [key, answer] : spans[r]) answers.push_back(std::move(answer));
    std::sort(answers.begin(), answers.end(), [](const Answer& a, const Answer& b) { return a.score > b.score; });
    if (static_cast<int64_t>(answers.size()) > options_.n_best) answers.resize(options_.n_best);
    std::map<int64_t, Utf8Index> indexes;
    for (auto& a : answers) {
      const std::string& doc = requests[r].documents[a.document];
      a.text = doc.substr(a.begin_byte, a.end_byte - a.begin_byte);
      auto it = indexes.try_emplace(a.document, doc).first;
      a.begin_char = it->second.char_of_byte(a.begin_byte);
      a.end_char = it->second.char_of_byte(a.end_byte);
    }
    // [CLS] has no place in the document, so no prior: "no answer" wins when it beats every
    // span's own score, whichever span the prior ranks first.
    const bool no_answer_wins = answers.empty() || null_score[r] - options_.no_answer_threshold > best_own_score[r];
    if (options_.allow_no_answer && std::isfinite(null_score[r]) && no_answer_wins) {
      Answer none;
      none.no_answer = true;
      none.score = null_score[r];
      answers.insert(answers.begin(), none);
      if (static_cast<int64_t>(answers.size()) > options_.n_best) answers.resize(options_.n_best);
    }
  }
  return results;
}

int64_t Reader::count_tokens(const ReadRequest& request) const {
  const auto question = static_cast<int64_t>(tokenizer_->tokenize(request.question).size());
  int64_t tokens = 0;
  for (const auto& document : request.documents) tokens += question + static_cast<int64_t>(tokenizer_->tokenize(document).size());
  return tokens;
}

}  // namespace longqa
