#include "longqa/training/reader_trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>

#include "qa_windows.h"
#include "train_loop.h"

namespace fs = std::filesystem;

namespace longqa {
namespace {

struct TokenizedExample {
  std::vector<int32_t> question;
  std::vector<Token> context;
};

// One training window and its labels (sequence positions; 0 = [CLS] = no answer here).
struct Feature {
  size_t example;
  int64_t begin, end;
  int64_t start_label, end_label;
};

// Token range [first, last] covering the byte range [begin, end), or {-1, -1}.
std::pair<int64_t, int64_t> answer_tokens(const std::vector<Token>& tokens, int64_t begin, int64_t end) {
  int64_t first = -1, last = -1;
  for (int64_t i = 0; i < static_cast<int64_t>(tokens.size()); ++i) {
    if (first < 0 && tokens[i].end > begin) first = i;
    if (tokens[i].begin < end) last = i;
  }
  if (first < 0 || last < first) return {-1, -1};
  return {first, last};
}

}  // namespace

void copy_tokenizer_files(const std::string& from_dir, const std::string& to_dir) {
  fs::create_directories(to_dir);
  for (const char* name : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json",
                           "vocab.json", "merges.txt"}) {
    const fs::path from = fs::path(from_dir) / name;
    if (fs::exists(from)) fs::copy_file(from, fs::path(to_dir) / name, fs::copy_options::overwrite_existing);
  }
}

ReaderTrainer::ReaderTrainer(QaModel model, std::shared_ptr<const Tokenizer> tokenizer, TrainerOptions options)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), options_(std::move(options)) {
  if (options_.out_dir.empty()) throw std::invalid_argument("trainer: out_dir is required");
  if (options_.batch_size < 1 || options_.grad_accum < 1) throw std::invalid_argument("trainer: batch_size and grad_accum must be >= 1");
  if (options_.epochs < 1 && options_.max_steps < 1) throw std::invalid_argument("trainer: give epochs or max_steps");
  if (options_.window_tokens > model_.config().max_window_tokens())
    throw std::invalid_argument("trainer: window_tokens " + std::to_string(options_.window_tokens) +
                                " exceeds the model's maximum " + std::to_string(model_.config().max_window_tokens()));
}

ReaderTrainer::~ReaderTrainer() = default;

void ReaderTrainer::set_teacher(QaModel teacher, TeacherOptions options) {
  if (teacher.config().vocab_size != model_.config().vocab_size)
    throw std::invalid_argument("trainer: the teacher's vocabulary (" + std::to_string(teacher.config().vocab_size) +
                                " entries) is not the student's (" + std::to_string(model_.config().vocab_size) + ")");
  if (options_.window_tokens > teacher.config().max_window_tokens())
    throw std::invalid_argument("trainer: window_tokens " + std::to_string(options_.window_tokens) +
                                " exceeds the teacher's maximum " + std::to_string(teacher.config().max_window_tokens()));
  if (options.hidden_weight > 0 && teacher.config().hidden_size != model_.config().hidden_size)
    throw std::invalid_argument("trainer: hidden-state distillation needs the teacher's width (" +
                                std::to_string(teacher.config().hidden_size) + ") to equal the student's (" +
                                std::to_string(model_.config().hidden_size) + ")");
  if (options.temperature <= 0) throw std::invalid_argument("trainer: the teacher's temperature must be positive");
  teacher_ = std::make_unique<QaModel>(std::move(teacher));
  teacher_options_ = options;
}

void ReaderTrainer::save_model(const std::string& dir) const {
  model_.save(dir);
  if (!options_.tokenizer_dir.empty()) copy_tokenizer_files(options_.tokenizer_dir, dir);
}

TrainResult ReaderTrainer::train(const std::vector<QaExample>& examples) {
  const at::Device device(options_.device);
  const bool autocast = options_.bf16 && device.is_cuda();

  // Tokenize once and cut windows; labels come from the tokens' byte offsets.
  const PairTemplate pair = tokenizer_->pair_template();
  std::vector<TokenizedExample> tokenized(examples.size());
  std::vector<Feature> features;
  std::mt19937_64 keep_rng(options_.seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  int64_t unlabelled_answers = 0;
  for (size_t e = 0; e < examples.size(); ++e) {
    auto& t = tokenized[e];
    for (const auto& token : tokenizer_->tokenize(examples[e].question)) t.question.push_back(token.id);
    if (static_cast<int64_t>(t.question.size()) > options_.max_question_tokens) t.question.resize(options_.max_question_tokens);
    t.context = tokenizer_->tokenize(examples[e].context);
    std::pair<int64_t, int64_t> answer{-1, -1};
    if (!examples[e].answers.empty()) {
      answer = answer_tokens(t.context, examples[e].answers[0].first, examples[e].answers[0].second);
      if (answer.first < 0) {
        ++unlabelled_answers;  // e.g. an answer made only of characters the tokenizer drops
        continue;
      }
    }
    const auto layout = WindowLayout::make(options_.window_tokens, static_cast<int64_t>(t.question.size()),
                                           options_.overlap_tokens, pair);
    const int64_t offset = pair.document_offset(static_cast<int64_t>(t.question.size()));
    for (auto [begin, end] : layout.ranges(static_cast<int64_t>(t.context.size()))) {
      const bool inside = answer.first >= begin && answer.second < end;
      if (answer.first >= 0 && !inside && uniform(keep_rng) >= options_.negative_window_keep) continue;
      features.push_back({e, begin, end, inside ? answer.first - begin + offset : 0,
                          inside ? answer.second - begin + offset : 0});
    }
  }
  if (features.empty()) throw std::invalid_argument("trainer: no training windows (empty or unusable examples)");
  if (unlabelled_answers > 0)
    std::cerr << "note: " << unlabelled_answers << " examples skipped: their answer covers no token\n";

  const int64_t total_features = static_cast<int64_t>(features.size());
  const int64_t total_steps =
      total_train_steps(options_, total_features, options_.batch_size * options_.grad_accum);
  EpochShuffle stream(total_features, options_.seed);

  model_.make_trainable();
  model_.to(device, at::kFloat);
  if (teacher_) teacher_->to(device, at::kFloat);
  TrainLoopHooks hooks;
  hooks.micro_batch_loss = [&](int64_t index) {
    std::vector<WindowSpan> spans;
    std::vector<int64_t> starts, ends;
    for (int64_t b = 0; b < options_.batch_size; ++b) {
      const Feature& f = features[stream(index * options_.batch_size + b)];
      spans.push_back({&tokenized[f.example].question, &tokenized[f.example].context, f.begin, f.end, &pair});
      starts.push_back(f.start_label);
      ends.push_back(f.end_label);
    }
    const auto batch = make_window_batch(spans, static_cast<int32_t>(model_.config().pad_token_id),
                                         model_.config().type_vocab_size);
    const EncoderInput input{batch.input_ids.to(device), batch.token_type_ids.to(device), batch.valid.to(device)};
    CudaAutocast cast(autocast);
    const bool hidden = teacher_ && teacher_options_.hidden_weight > 0;
    std::vector<at::Tensor> student_layers;
    const auto logits = model_.forward(input, hidden ? &student_layers : nullptr);
    const auto start_target = at::tensor(starts, at::kLong).to(device);
    const auto end_target = at::tensor(ends, at::kLong).to(device);
    auto loss = (at::cross_entropy_loss(logits.start, start_target) + at::cross_entropy_loss(logits.end, end_target)) / 2;
    if (teacher_) {
      std::vector<at::Tensor> teacher_layers;
      QaLogits taught;
      {
        c10::NoGradGuard no_grad;
        taught = teacher_->forward(input, hidden ? &teacher_layers : nullptr);
      }
      const double t = teacher_options_.temperature;
      if (teacher_options_.logit_weight > 0)
        loss = loss + teacher_options_.logit_weight *
                          (position_kl_loss(logits.start, taught.start, input.valid, t) +
                           position_kl_loss(logits.end, taught.end, input.valid, t)) / 2;
      if (hidden) loss = loss + teacher_options_.hidden_weight * hidden_state_loss(student_layers, teacher_layers, input.valid);
    }
    return std::make_pair(loss, batch.valid.sum().item<int64_t>());
  };
  hooks.save_model = [&](const std::string& dir) { save_model(dir); };
  hooks.load_weights = [&](const std::string& dir) {
    const QaModel saved = QaModel::load(dir);
    c10::NoGradGuard no_grad;
    for (auto& [name, p] : model_.parameters()) p.copy_(saved.parameters().at(name));
  };
  if (evaluator_) hooks.evaluate = [&] { return evaluator_(model_, *tokenizer_); };
  return run_train_loop(model_.parameters(), options_, total_steps, total_features, hooks);
}

}  // namespace longqa
