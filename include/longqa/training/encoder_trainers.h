// Training the encoder without QA labels: masked-language-model pretraining on raw text,
// hidden-state distillation from a teacher encoder, and a dense bi-encoder retriever trained with in-batch negatives on (question, passage)
// pairs. Both run on the shared training loop (TrainerOptions: window_tokens is the
// sequence length; batch_size, learning rate, checkpoints and --resume as for the reader).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "longqa/qa_model.h"
#include "longqa/training/reader_trainer.h"
#include "longqa/tokenizer.h"

namespace longqa {

// BERT's MLM objective: 15% of the tokens chosen, 80% of those replaced by [MASK], 10% by a
// random token, 10% kept. The head (cls.predictions.*, decoder tied to the word embeddings)
// is saved beside the model as mlm_head.safetensors and reused when present.
class MlmPretrainer {
 public:
  MlmPretrainer(QaModel model, std::shared_ptr<const Tokenizer> tokenizer, TrainerOptions options,
                const std::string& init_dir = "");
  TrainResult train(const std::vector<std::string>& texts);
  const QaModel& model() const { return model_; }
  void save_model(const std::string& dir) const;
  // Mean masked-token loss on texts (no training), e.g. for held-out text.
  double evaluate(const std::vector<std::string>& texts, int64_t max_chunks = 64) const;

 private:
  at::Tensor masked_lm_loss(const EncoderInput& input, const at::Tensor& labels) const;
  QaModel model_;
  NamedTensors head_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  TrainerOptions options_;
};

// Layer-by-layer hidden-state distillation on raw text: the student (e.g. a LittleBird
// model made by `model convert`, which lost the absolute positions its weights were trained
// with) learns to reproduce the teacher's (e.g. the BERT it came from) hidden states. Student
// layer l (1-based) matches teacher layer round(l * L_teacher / L_student); the loss is the
// mean over those layers of the squared error per hidden unit over real tokens. Sequences are
// window_tokens long at most, which must fit the teacher's position table.
class DistillTrainer {
 public:
  DistillTrainer(QaModel student, QaModel teacher, std::shared_ptr<const Tokenizer> tokenizer, TrainerOptions options);
  TrainResult train(const std::vector<std::string>& texts);
  const QaModel& model() const { return student_; }
  void save_model(const std::string& dir) const;
  // Mean distillation loss on texts (no training), e.g. for held-out text.
  double evaluate(const std::vector<std::string>& texts, int64_t max_chunks = 64) const;

 private:
  at::Tensor loss(const EncoderInput& input) const;
  QaModel student_, teacher_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  TrainerOptions options_;
};

// A bi-encoder: one encoder for questions and passages, mean pooling, L2 normalisation,
// loss = cross-entropy over the in-batch similarity matrix / temperature. The output
// directory loads as a TextEncoder (sentence-transformers layout files are written).
class RetrieverTrainer {
 public:
  RetrieverTrainer(QaModel encoder, std::shared_ptr<const Tokenizer> tokenizer, TrainerOptions options,
                   double temperature = 0.05, int64_t max_question_tokens = 64);
  TrainResult train(const std::vector<std::pair<std::string, std::string>>& pairs);
  const QaModel& model() const { return model_; }
  void save_model(const std::string& dir) const;

 private:
  QaModel model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  TrainerOptions options_;
  double temperature_;
  int64_t max_question_tokens_;
};

}  // namespace longqa
