#include "longqa/training/encoder_trainers.h"

#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <random>

#include "layers.h"
#include "longqa/safetensors.h"
#include "train_loop.h"

namespace fs = std::filesystem;

namespace longqa {
namespace {

constexpr const char* kHeadFile = "mlm_head.safetensors";

void require_out_dir(const TrainerOptions& options) {
  if (options.out_dir.empty()) throw std::invalid_argument("trainer: out_dir is required");
}

std::vector<int32_t> token_ids(const Tokenizer& tokenizer, const std::string& text) {
  std::vector<int32_t> ids;
  for (const auto& t : tokenizer.tokenize(text)) ids.push_back(t.id);
  return ids;
}

// Copies the live parameters' values from a saved model directory.
void load_weights_into(QaModel& model, const std::string& dir) {
  const QaModel saved = QaModel::load(dir);
  c10::NoGradGuard no_grad;
  for (auto& [name, p] : model.parameters()) p.copy_(saved.parameters().at(name));
}

}  // namespace

// ---------------------------------------------------------------- MLM pretraining

MlmPretrainer::MlmPretrainer(QaModel model, std::shared_ptr<const Tokenizer> tokenizer, TrainerOptions options,
                             const std::string& init_dir)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), options_(std::move(options)) {
  require_out_dir(options_);
  const int64_t d = model_.config().hidden_size;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(options_.seed);
  head_["cls.predictions.transform.dense.weight"] = at::normal(0.0, model_.config().initializer_range, {d, d}, gen);
  head_["cls.predictions.transform.dense.bias"] = at::zeros({d});
  head_["cls.predictions.transform.LayerNorm.weight"] = at::ones({d});
  head_["cls.predictions.transform.LayerNorm.bias"] = at::zeros({d});
  head_["cls.predictions.bias"] = at::zeros({model_.config().vocab_size});
  const fs::path saved = fs::path(init_dir) / kHeadFile;
  if (!init_dir.empty() && fs::exists(saved)) {
    SafetensorsFile file(saved.string());
    for (auto& [name, t] : head_) t = file.get(name).to(at::kFloat).clone();
  }
}

at::Tensor MlmPretrainer::masked_lm_loss(const EncoderInput& input, const at::Tensor& labels) const {
  const auto hidden = model_.encode(input);
  const auto chosen = labels.ne(-100);
  const auto h = hidden.index({chosen});  // (m, d): only the masked positions go through the head
  auto t = layers::activation(layers::linear(head_, "cls.predictions.transform.dense", h), model_.config().hidden_act);
  t = layers::layer_norm(head_, "cls.predictions.transform.LayerNorm", t, model_.config().layer_norm_eps);
  const auto& words = model_.parameters().at(model_.config().weight_prefix() + ".embeddings.word_embeddings.weight");
  const auto logits = at::linear(t, words, head_.at("cls.predictions.bias"));
  return at::cross_entropy_loss(logits.to(at::kFloat), labels.index({chosen}));
}

namespace {

// Texts cut into chunks of at most `body` tokens (each text on its own: no chunk spans two).
std::vector<std::vector<int32_t>> token_chunks(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                               int64_t body) {
  std::vector<std::vector<int32_t>> chunks;
  for (const auto& text : texts) {
    const auto ids = token_ids(tokenizer, text);
    for (size_t b = 0; b < ids.size(); b += static_cast<size_t>(body))
      chunks.emplace_back(ids.begin() + static_cast<int64_t>(b),
                          ids.begin() + static_cast<int64_t>(std::min(ids.size(), b + static_cast<size_t>(body))));
  }
  return chunks;
}

// The MLM corruption of a batch, fixed by `seed` so a resumed run masks the same way.
std::pair<EncoderInput, at::Tensor> mask_batch(EncoderInput input, const Tokenizer& tokenizer, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  auto labels = at::full_like(input.input_ids, -100);
  auto ids = input.input_ids.accessor<int64_t, 2>();
  auto valid = input.valid.accessor<bool, 2>();
  auto lab = labels.accessor<int64_t, 2>();
  const int64_t vocab = tokenizer.vocab_size();
  for (int64_t b = 0; b < ids.size(0); ++b) {
    int64_t chosen = 0, last_valid = 0;
    for (int64_t i = 1; i < ids.size(1) && valid[b][i]; ++i) last_valid = i;
    for (int64_t i = 1; i < last_valid; ++i) {  // never [CLS] (0) or the final [SEP]
      if (uniform(rng) >= 0.15) continue;
      lab[b][i] = ids[b][i];
      ++chosen;
      const double r = uniform(rng);
      if (r < 0.8) ids[b][i] = tokenizer.mask_id();
      else if (r < 0.9) ids[b][i] = static_cast<int64_t>(rng() % static_cast<uint64_t>(vocab));
    }
    if (chosen == 0 && last_valid > 1) {  // every sequence contributes at least one target
      lab[b][1] = ids[b][1];
      ids[b][1] = tokenizer.mask_id();
    }
  }
  return {input, labels};
}

// The mean of `loss_of(batch, index of its first chunk)` over the first `max_chunks` chunks of
// the texts, batch_size single-segment sequences at a time, without gradients.
double mean_batch_loss(const Tokenizer& tokenizer, const std::vector<std::string>& texts, const TrainerOptions& options,
                       int64_t max_chunks, const std::function<double(const EncoderInput&, size_t)>& loss_of) {
  c10::InferenceMode guard;
  auto chunks = token_chunks(tokenizer, texts, options.window_tokens - 2);
  if (chunks.empty()) return 0;
  if (static_cast<int64_t>(chunks.size()) > max_chunks) chunks.resize(max_chunks);
  double total = 0;
  int64_t batches = 0;
  for (size_t first = 0; first < chunks.size(); first += static_cast<size_t>(options.batch_size)) {
    std::vector<const std::vector<int32_t>*> batch;
    for (size_t i = first; i < std::min(chunks.size(), first + static_cast<size_t>(options.batch_size)); ++i)
      batch.push_back(&chunks[i]);
    total += loss_of(layers::single_segment_batch(batch, options.window_tokens, tokenizer.cls_id(), tokenizer.sep_id(),
                                                  tokenizer.pad_id()),
                     first);
    ++batches;
  }
  return total / static_cast<double>(batches);
}

EncoderInput on_device(const EncoderInput& input, const at::Device& device) {
  return {input.input_ids.to(device), input.token_type_ids.to(device), input.valid.to(device)};
}

}  // namespace

TrainResult MlmPretrainer::train(const std::vector<std::string>& texts) {
  const at::Device device(options_.device);
  const bool autocast = options_.bf16 && device.is_cuda();
  const auto chunks = token_chunks(*tokenizer_, texts, options_.window_tokens - 2);
  if (chunks.empty()) throw std::invalid_argument("pretrain: no text to train on");
  const int64_t n = static_cast<int64_t>(chunks.size());
  EpochShuffle stream(n, options_.seed);

  model_.make_trainable();
  model_.to(device, at::kFloat);
  NamedTensors params;  // the encoder (not the unused QA head) and the MLM head, sharing storage
  for (auto& [name, t] : model_.parameters())
    if (name.rfind("qa_outputs.", 0) != 0) params[name] = t;
  for (auto& [name, t] : head_) {
    t = t.to(device).detach().requires_grad_(true);
    params[name] = t;
  }
  TrainLoopHooks hooks;
  hooks.micro_batch_loss = [&](int64_t index) {
    std::vector<const std::vector<int32_t>*> batch;
    for (int64_t b = 0; b < options_.batch_size; ++b) batch.push_back(&chunks[stream(index * options_.batch_size + b)]);
    auto [input, labels] = mask_batch(
        layers::single_segment_batch(batch, options_.window_tokens, tokenizer_->cls_id(), tokenizer_->sep_id(),
                                     tokenizer_->pad_id()),
        *tokenizer_, options_.seed * 7919 + static_cast<uint64_t>(index));
    CudaAutocast cast(autocast);
    const int64_t tokens = input.valid.sum().item<int64_t>();
    auto loss = masked_lm_loss(on_device(input, device), labels.to(device));
    return std::make_pair(loss, tokens);
  };
  hooks.save_model = [&](const std::string& dir) { save_model(dir); };
  hooks.load_weights = [&](const std::string& dir) {
    load_weights_into(model_, dir);
    SafetensorsFile file((fs::path(dir) / kHeadFile).string());
    c10::NoGradGuard no_grad;
    for (auto& [name, t] : head_) t.copy_(file.get(name));
  };
  return run_train_loop(params, options_, total_train_steps(options_, n, options_.batch_size * options_.grad_accum), n,
                        hooks);
}

double MlmPretrainer::evaluate(const std::vector<std::string>& texts, int64_t max_chunks) const {
  const at::Device device = model_.parameters().begin()->second.device();
  return mean_batch_loss(*tokenizer_, texts, options_, max_chunks, [&](const EncoderInput& batch, size_t first) {
    auto [input, labels] = mask_batch(batch, *tokenizer_, 12345 + first);
    return masked_lm_loss(on_device(input, device), labels.to(device)).item<double>();
  });
}

void MlmPretrainer::save_model(const std::string& dir) const {
  model_.save(dir);
  std::map<std::string, at::Tensor> head;
  for (const auto& [name, t] : head_) head[name] = t.detach().to(at::kCPU);
  save_safetensors((fs::path(dir) / kHeadFile).string(), head);
  if (!options_.tokenizer_dir.empty()) copy_tokenizer_files(options_.tokenizer_dir, dir);
}

// ---------------------------------------------------------------- distillation

DistillTrainer::DistillTrainer(QaModel student, QaModel teacher, std::shared_ptr<const Tokenizer> tokenizer,
                               TrainerOptions options)
    : student_(std::move(student)), teacher_(std::move(teacher)), tokenizer_(std::move(tokenizer)),
      options_(std::move(options)) {
  require_out_dir(options_);
  const auto &s = student_.config(), &t = teacher_.config();
  if (s.hidden_size != t.hidden_size)
    throw std::invalid_argument("distill: student hidden_size " + std::to_string(s.hidden_size) +
                                " differs from the teacher's " + std::to_string(t.hidden_size));
  if (s.vocab_size != t.vocab_size)
    throw std::invalid_argument("distill: student and teacher have different vocabularies (" +
                                std::to_string(s.vocab_size) + " and " + std::to_string(t.vocab_size) + " entries)");
  if (options_.window_tokens > t.max_window_tokens() || options_.window_tokens > s.max_window_tokens())
    throw std::invalid_argument("distill: sequences of " + std::to_string(options_.window_tokens) +
                                " tokens do not fit the teacher (" + std::to_string(t.max_window_tokens()) +
                                ") or the student (" + std::to_string(s.max_window_tokens()) + ")");
}

at::Tensor DistillTrainer::loss(const EncoderInput& input) const {
  std::vector<at::Tensor> student_layers, teacher_layers;
  {
    c10::NoGradGuard no_grad;
    teacher_.encode(input, &teacher_layers);
  }
  student_.encode(input, &student_layers);
  return hidden_state_loss(student_layers, teacher_layers, input.valid);
}

TrainResult DistillTrainer::train(const std::vector<std::string>& texts) {
  const at::Device device(options_.device);
  const bool autocast = options_.bf16 && device.is_cuda();
  const auto chunks = token_chunks(*tokenizer_, texts, options_.window_tokens - 2);
  if (chunks.empty()) throw std::invalid_argument("distill: no text to train on");
  const int64_t n = static_cast<int64_t>(chunks.size());
  EpochShuffle stream(n, options_.seed);
  student_.make_trainable();
  student_.to(device, at::kFloat);
  teacher_.to(device, at::kFloat);
  NamedTensors params;  // the encoder: the QA head gets no signal here
  for (auto& [name, t] : student_.parameters())
    if (name.rfind("qa_outputs.", 0) != 0) params[name] = t;
  TrainLoopHooks hooks;
  hooks.micro_batch_loss = [&](int64_t index) {
    std::vector<const std::vector<int32_t>*> batch;
    for (int64_t b = 0; b < options_.batch_size; ++b) batch.push_back(&chunks[stream(index * options_.batch_size + b)]);
    const auto input = layers::single_segment_batch(batch, options_.window_tokens, tokenizer_->cls_id(),
                                                    tokenizer_->sep_id(), tokenizer_->pad_id());
    CudaAutocast cast(autocast);
    auto l = loss(on_device(input, device));
    return std::make_pair(l, input.valid.sum().item<int64_t>());
  };
  hooks.save_model = [&](const std::string& dir) { save_model(dir); };
  hooks.load_weights = [&](const std::string& dir) { load_weights_into(student_, dir); };
  return run_train_loop(params, options_, total_train_steps(options_, n, options_.batch_size * options_.grad_accum), n,
                        hooks);
}

double DistillTrainer::evaluate(const std::vector<std::string>& texts, int64_t max_chunks) const {
  const at::Device device = student_.parameters().begin()->second.device();
  return mean_batch_loss(*tokenizer_, texts, options_, max_chunks, [&](const EncoderInput& batch, size_t) {
    return loss(on_device(batch, device)).item<double>();
  });
}

void DistillTrainer::save_model(const std::string& dir) const {
  student_.save(dir);
  if (!options_.tokenizer_dir.empty()) copy_tokenizer_files(options_.tokenizer_dir, dir);
}

// ---------------------------------------------------------------- bi-encoder retriever

RetrieverTrainer::RetrieverTrainer(QaModel encoder, std::shared_ptr<const Tokenizer> tokenizer, TrainerOptions options,
                                   double temperature, int64_t max_question_tokens)
    : model_(std::move(encoder)),
      tokenizer_(std::move(tokenizer)),
      options_(std::move(options)),
      temperature_(temperature),
      max_question_tokens_(max_question_tokens) {
  require_out_dir(options_);
  if (options_.batch_size < 2) throw std::invalid_argument("train-retriever: batch_size must be >= 2 (in-batch negatives)");
}

TrainResult RetrieverTrainer::train(const std::vector<std::pair<std::string, std::string>>& pairs) {
  if (pairs.empty()) throw std::invalid_argument("train-retriever: no (question, passage) pairs");
  const at::Device device(options_.device);
  const bool autocast = options_.bf16 && device.is_cuda();
  std::vector<std::vector<int32_t>> questions, passages;
  for (const auto& [q, p] : pairs) {
    questions.push_back(token_ids(*tokenizer_, q));
    passages.push_back(token_ids(*tokenizer_, p));
  }
  const int64_t n = static_cast<int64_t>(pairs.size());
  EpochShuffle stream(n, options_.seed);
  model_.make_trainable();
  model_.to(device, at::kFloat);
  NamedTensors params;
  for (auto& [name, t] : model_.parameters())
    if (name.rfind("qa_outputs.", 0) != 0) params[name] = t;

  auto embed = [&](const std::vector<const std::vector<int32_t>*>& batch, int64_t max_tokens) {
    const auto input = layers::single_segment_batch(batch, max_tokens, tokenizer_->cls_id(), tokenizer_->sep_id(),
                                                    tokenizer_->pad_id());
    const auto valid = input.valid.to(device);
    const auto hidden = model_.encode({input.input_ids.to(device), input.token_type_ids.to(device), valid});
    const auto pooled = layers::mean_pool(hidden, valid).to(at::kFloat);
    return std::make_pair(pooled / pooled.norm(2, {1}, true).clamp_min(1e-12), input.valid.sum().item<int64_t>());
  };
  TrainLoopHooks hooks;
  hooks.micro_batch_loss = [&](int64_t index) {
    std::vector<const std::vector<int32_t>*> qs, ps;
    for (int64_t b = 0; b < options_.batch_size; ++b) {
      const int64_t i = stream(index * options_.batch_size + b);
      qs.push_back(&questions[i]);
      ps.push_back(&passages[i]);
    }
    CudaAutocast cast(autocast);
    auto [q, q_tokens] = embed(qs, max_question_tokens_);
    auto [p, p_tokens] = embed(ps, options_.window_tokens);
    const auto scores = at::matmul(q, p.t()) / temperature_;
    const auto targets = at::arange(options_.batch_size, at::TensorOptions(at::kLong).device(device));
    auto loss = (at::cross_entropy_loss(scores, targets) + at::cross_entropy_loss(scores.t(), targets)) / 2;
    return std::make_pair(loss, q_tokens + p_tokens);
  };
  hooks.save_model = [&](const std::string& dir) { save_model(dir); };
  hooks.load_weights = [&](const std::string& dir) { load_weights_into(model_, dir); };
  return run_train_loop(params, options_, total_train_steps(options_, n, options_.batch_size * options_.grad_accum), n,
                        hooks);
}

void RetrieverTrainer::save_model(const std::string& dir) const {
  model_.save(dir);
  if (!options_.tokenizer_dir.empty()) copy_tokenizer_files(options_.tokenizer_dir, dir);
  // The sentence-transformers layout, so TextEncoder (and sentence-transformers) pool the same way.
  fs::create_directories(fs::path(dir) / "1_Pooling");
  std::ofstream(fs::path(dir) / "modules.json")
      << R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
 {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
)";
  std::ofstream(fs::path(dir) / "1_Pooling" / "config.json")
      << "{\"word_embedding_dimension\": " << model_.config().hidden_size
      << ", \"pooling_mode_cls_token\": false, \"pooling_mode_mean_tokens\": true, \"pooling_mode_max_tokens\": false}\n";
  std::ofstream(fs::path(dir) / "sentence_bert_config.json")
      << "{\"max_seq_length\": " << options_.window_tokens << ", \"do_lower_case\": false}\n";
}

}  // namespace longqa
