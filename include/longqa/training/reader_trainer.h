// Fine-tuning a QA model on extractive examples (SQuAD-style): windows labelled through
// the tokenizer's offsets, AdamW with warmup and linear decay, gradient clipping and
// accumulation, bf16 autocast on CUDA, checkpoints every N steps and exact resume.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "longqa/qa_model.h"
#include "longqa/tokenizer.h"

namespace longqa {

struct QaExample {
  std::string id, question, context;
  // Answer byte ranges [begin, end) into context; the first one is the label.
  // None: an unanswerable example (the label is [CLS]).
  std::vector<std::pair<int64_t, int64_t>> answers;
};

struct TrainerOptions {
  std::string out_dir;               // checkpoints and the final model directory
  std::string tokenizer_dir;         // its vocab.txt / tokenizer_config.json / tokenizer.json are copied along
  int64_t epochs = 2;
  int64_t max_steps = 0;             // > 0: stop after this many optimizer steps
  int64_t batch_size = 8;            // windows per micro-batch
  int64_t grad_accum = 1;            // micro-batches per optimizer step
  double learning_rate = 5e-5;
  double weight_decay = 0.01;
  double warmup_ratio = 0.1;
  double max_grad_norm = 1.0;
  int64_t window_tokens = 384;
  int64_t overlap_tokens = 128;
  int64_t max_question_tokens = 64;
  double negative_window_keep = 1.0; // share of answerless windows of answerable examples kept
  uint64_t seed = 42;
  int64_t save_every = 500;          // checkpoint every N steps (0: only at the end)
  int64_t keep_checkpoints = 2;
  int64_t eval_every = 0;            // evaluate every N steps (0: only at the end)
  int64_t log_every = 10;
  std::string device = "cpu";        // "cpu" or "cuda[:N]"
  bool bf16 = true;                  // autocast to bf16 on CUDA
  bool resume = false;               // continue from the newest checkpoint in out_dir
  int64_t stop_after = 0;            // > 0: checkpoint and stop after this step, as if interrupted
                                     // (time-boxed runs); the schedule still spans all steps
  bool progress = true;              // progress line on stderr
};

struct TrainResult {
  int64_t steps = 0;
  double last_loss = 0;                   // mean loss over the last log window
  std::map<std::string, double> metrics;  // from the last evaluation
};

// Knowledge distillation from a trained QA teacher that reads the same windows (e.g. a BERT
// reader, whose absolute positions a LittleBird student lacks): the loss adds
// logit_weight x KL(teacher || student) of the start and end distributions at `temperature`
// (times temperature²) and hidden_weight x the layer-by-layer hidden-state error (same width).
struct TeacherOptions {
  double logit_weight = 1.0;
  double hidden_weight = 0.0;
  double temperature = 2.0;
};

class ReaderTrainer {
 public:
  using Evaluator = std::function<std::map<std::string, double>(const QaModel&, const Tokenizer&)>;

  ReaderTrainer(QaModel model, std::shared_ptr<const Tokenizer> tokenizer, TrainerOptions options);
  ~ReaderTrainer();
  void set_evaluator(Evaluator evaluator) { evaluator_ = std::move(evaluator); }
  // The teacher must share the tokenizer and read window_tokens-token windows.
  void set_teacher(QaModel teacher, TeacherOptions options = {});

  TrainResult train(const std::vector<QaExample>& examples);
  const QaModel& model() const { return model_; }

  // Writes a complete model directory (config, weights, tokenizer files) into dir.
  void save_model(const std::string& dir) const;

 private:
  QaModel model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  TrainerOptions options_;
  Evaluator evaluator_;
  std::unique_ptr<QaModel> teacher_;
  TeacherOptions teacher_options_;
};

// Copies vocab.txt, tokenizer_config.json, special_tokens_map.json and tokenizer.json
// (those that exist) from one model directory to another.
void copy_tokenizer_files(const std::string& from_dir, const std::string& to_dir);

}  // namespace longqa
