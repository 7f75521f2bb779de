// The Reader: question + document(s) of any length -> the n best answer spans,
// with text, score and offsets into the original document.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "longqa/threads.h"  // the CPU thread count is the application's: set_compute_threads

namespace longqa {

class QaModel;
class Tokenizer;

struct ReaderOptions {
  int64_t max_answer_tokens = 30;   // longest answer, in tokens
  int64_t n_best = 5;               // answers returned per question
  int64_t max_question_tokens = 64; // longer questions are truncated
  int64_t window_tokens = 0;        // tokens per window, question included; 0 = the model's maximum
  int64_t overlap_tokens = -1;      // document tokens shared by consecutive windows; -1 = a quarter
  bool allow_no_answer = false;     // return an empty answer when [CLS] outscores every span
                                    // (their scores without the passage prior; the empty
                                    // answer, first, then has the null score, no prior)
  double no_answer_threshold = 0.0; // null score must exceed best span score by this much
  int64_t batch_windows = 8;        // at most this many windows per forward pass,
  int64_t batch_tokens = 16384;     // and at most this many tokens, padding included (rows x the
                                    // longest); a longer window is read alone. Keeps one long window
                                    // from padding the short ones beside it to its length.
  // How span scores of different windows (and documents) are made comparable before ranking:
  //   raw      start logit + end logit, as the model gives them;
  //   null     minus the window's [CLS] score (start[0] + end[0]): how much better than "not here";
  //   softmax  log p(start) + log p(end), each a softmax over the window's tokens.
  // Within one window all three rank alike. bench/results/calibration.json measures them.
  std::string score_calibration = "raw";
  // What the reader computes in: float32; bfloat16 (weights and activations; faster on CPUs
  // with AVX512_BF16 and on GPUs); or int8 (CPU only: linear layers' weights int8 per output
  // channel, activations quantized on the fly, the rest float32; fastest with VNNI). Accuracy
  // of each in the model cards. Empty: the model's own dtype
  // (QaModel::load gives float32). The reader converts a copy; a shared model is left alone.
  std::string dtype;
  // Weight of the passage prior: when a request says how relevant parts of a document are
  // (ReadRequest::relevance, e.g. the retriever's cosine similarity of question and passage),
  // weight x relevance is added to the score of every span that starts there. Over a whole
  // article the reader alone often prefers a fluent span elsewhere; the prior steers it to
  // the passages about the question. 0 turns it off. The default was chosen on held-out
  // questions apart from the ones the model card reports (bench/passage_prior.py).
  double passage_weight = 50.0;
};

// "", "float32", "bfloat16" or "int8" (ReaderOptions::dtype); anything else: std::invalid_argument.
// (Inline: the server's settings check them without linking the reader.)
inline void check_reader_dtype(const std::string& name) {
  if (!name.empty() && name != "float32" && name != "bfloat16" && name != "int8")
    throw std::invalid_argument("reader option dtype '" + name + "': expected float32, bfloat16 or int8");
}

// "raw", "null" or "softmax" (ReaderOptions::score_calibration); anything else: std::invalid_argument.
inline void check_score_calibration(const std::string& name) {
  if (name != "raw" && name != "null" && name != "softmax")
    throw std::invalid_argument("reader option score_calibration '" + name + "': expected raw, null or softmax");
}

struct Answer {
  std::string text;           // exactly document[begin_byte, end_byte)
  double score = 0;           // start logit + end logit (after ReaderOptions::score_calibration),
                              // plus passage_prior
  double passage_prior = 0;   // passage_weight x the relevance of where the span starts (0 without one)
  int64_t begin_byte = 0, end_byte = 0;  // UTF-8 byte offsets into the document
  int64_t begin_char = 0, end_char = 0;  // code-point offsets (SQuAD's answer_start convention)
  int64_t document = 0;       // index of the document in the request
  bool no_answer = false;     // the empty "no answer" prediction
};

// How relevant a byte range of a document is to the question (ReaderOptions::passage_weight).
// Ranges may overlap (a span starting in several takes the highest); a span starting in none
// takes the document's lowest relevance.
struct PassageRelevance {
  int64_t begin_byte = 0, end_byte = 0;
  double relevance = 0;
};

struct ReadRequest {
  std::string question;
  std::vector<std::string> documents;  // one or more; answers are ranked across all of them
  // Empty, or one list per document (an empty list: no prior on that document, so its spans
  // compete unaided against documents whose spans have one).
  std::vector<std::vector<PassageRelevance>> relevance = {};
};

class Reader {
 public:
  // Loads the model and tokenizer from a model directory.
  explicit Reader(const std::string& model_dir, ReaderOptions options = {});
  Reader(std::shared_ptr<const QaModel> model, std::shared_ptr<const Tokenizer> tokenizer,
         ReaderOptions options = {});
  ~Reader();

  std::vector<Answer> read(const std::string& question, const std::string& document) const;
  std::vector<Answer> read(const ReadRequest& request) const;
  // Several questions at once: their windows share forward passes.
  std::vector<std::vector<Answer>> read_batch(const std::vector<ReadRequest>& requests) const;
  // Tokens a read of `request` reads: the question's once per document, plus each document's
  // (before windowing; what batching and throughput figures count).
  int64_t count_tokens(const ReadRequest& request) const;

  const ReaderOptions& options() const { return options_; }
  const QaModel& model() const { return *model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  std::shared_ptr<const QaModel> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  ReaderOptions options_;
};

}  // namespace longqa
