#include "longqa/qa_model.h"

#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>
#include <stdexcept>

#include "longqa/common/errors.h"
#include "big_bird_encoder.h"
#include "int8_linear.h"
#include "layers.h"
#include "modernbert_encoder.h"
#include "longqa/safetensors.h"

namespace fs = std::filesystem;

namespace longqa {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_string(at::IntArrayRef shape) {
  std::ostringstream out;
  out << shape;
  return out.str();
}

// Checkpoint tensors that QA inference does not use and may safely be ignored.
bool ignorable(const std::string& name) {
  return name.find(".pooler.") != std::string::npos || name.rfind("pooler.", 0) == 0 ||  // prefixless: BertModel
         ends_with(name, "embeddings.position_ids") ||
         name.rfind("cls.", 0) == 0 || name.rfind("discriminator_predictions.", 0) == 0 ||
         name.rfind("lm_head.", 0) == 0 || name.rfind("decoder.", 0) == 0;  // RoBERTa's and ModernBERT's MLM heads
}

// The QA head's parameters: qa_outputs, BigBird's qa_classifier, ModernBERT's head and classifier.
bool is_head(const std::string& name) {
  for (const char* head : {"qa_outputs.", "qa_classifier.", "head.", "classifier."})
    if (name.rfind(head, 0) == 0) return true;
  return false;
}

// ALiBi's geometric slopes 2^(-8k/H), k = 1..H: a local bias to start from.
at::Tensor alibi_slopes(int64_t heads) {
  auto k = at::arange(1, heads + 1, at::kFloat);
  return at::pow(2.0, -8.0 * k / static_cast<double>(heads));
}

}  // namespace

QaModel::QaModel(ModelConfig config) : config_(std::move(config)) {
  config_.validate();
  encoder_ = make_encoder(config_, &params_);
}
QaModel::QaModel(QaModel&& other) noexcept
    : config_(std::move(other.config_)), params_(std::move(other.params_)) {
  encoder_ = make_encoder(config_, &params_);  // rebind to our own parameter map
}
QaModel& QaModel::operator=(QaModel&& other) noexcept {
  config_ = std::move(other.config_);
  params_ = std::move(other.params_);
  encoder_ = make_encoder(config_, &params_);
  return *this;
}
QaModel::~QaModel() = default;

std::vector<std::pair<std::string, std::vector<int64_t>>> QaModel::parameter_shapes() const {
  auto shapes = encoder_->parameter_shapes();
  if (config_.model_type == "big_bird")
    big_bird::add_qa_head(shapes, config_);
  else if (config_.model_type == "modernbert")
    modernbert::add_qa_head(shapes, config_);
  else
    layers::add_linear(shapes, "qa_outputs", config_.hidden_size, 2);
  return shapes;
}

QaModel QaModel::random(const ModelConfig& config, uint64_t seed) {
  QaModel model(config);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double std = config.initializer_range;
  const auto slopes = alibi_slopes(config.num_attention_heads);
  for (const auto& [name, shape] : model.parameter_shapes()) {
    at::Tensor t;
    if (ends_with(name, "LayerNorm.weight")) {
      t = at::ones(shape);
    } else if (ends_with(name, ".bias") || ends_with(name, "bialibi_alpha")) {
      t = at::zeros(shape);
    } else if (ends_with(name, "bialibi_beta") || ends_with(name, "bialibi_gamma")) {
      t = slopes.clone();
    } else {
      t = at::normal(0.0, std, shape, gen);
    }
    model.params_[name] = t;
  }
  return model;
}

QaModel QaModel::load_checkpoint(const std::string& dir, bool with_head) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw FileFormatError(dir, "not a model directory");
  QaModel model(ModelConfig::from_json_file((root / "config.json").string()));
  Checkpoint checkpoint(dir);
  const ModelConfig& config = model.config();
  // Encoder-only checkpoints (BertModel) name their tensors without the model prefix.
  const std::string prefix = config.weight_prefix() + ".";
  const std::string first = model.parameter_shapes().front().first;  // the word embeddings
  const bool prefixless = !with_head && first.rfind(prefix, 0) == 0 && !checkpoint.contains(first) &&
                          checkpoint.contains(first.substr(prefix.size()));
  auto stored_name = [&](const std::string& name) {
    return prefixless && name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
  };
  std::set<std::string> expected;
  for (const auto& [name, shape] : model.parameter_shapes()) {
    const bool head = is_head(name);
    if (head && !with_head && !checkpoint.contains(name)) {
      // An encoder-only checkpoint: the QA head starts fresh, so the model can be fine-tuned.
      auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
      model.parameters()[name] = ends_with(name, "LayerNorm.weight") ? at::ones(shape)
                                 : ends_with(name, ".bias")          ? at::zeros(shape)
                                                                     : at::normal(0.0, config.initializer_range, shape, gen);
      continue;
    }
    const std::string stored = head ? name : stored_name(name);
    expected.insert(stored);
    if (!checkpoint.contains(stored))
      throw FileFormatError(dir, "checkpoint has no tensor '" + stored + "' (a " + config.model_type +
                                         (with_head ? " question-answering" : "") + " model needs it)");
    at::Tensor t = checkpoint.get(stored);
    if (t.sizes() != at::IntArrayRef(shape))
      throw FileFormatError(checkpoint.file_of(stored), "tensor '" + stored + "' has shape " +
                                                            shape_string(t.sizes()) + ", config.json implies " + shape_string(shape));
    if (!at::isFloatingType(t.scalar_type()))
      throw FileFormatError(checkpoint.file_of(stored), "tensor '" + stored + "' has non-float dtype " +
                                                            checkpoint.info(stored).dtype);
    // float32 tensors stay zero-copy views of the mapping (read-only); others are converted.
    model.parameters()[name] = t.to(at::kFloat);
  }
  for (const auto& name : checkpoint.names()) {
    if (!expected.count(name) && !ignorable(name))
      throw FileFormatError(checkpoint.file_of(name), "unexpected tensor '" + name + "' for a " +
                                                          config.model_type + " model with this config.json");
  }
  return model;
}

QaModel QaModel::load(const std::string& dir) { return load_checkpoint(dir, /*with_head=*/true); }
QaModel QaModel::load_encoder(const std::string& dir) { return load_checkpoint(dir, /*with_head=*/false); }

void QaModel::save(const std::string& dir, at::ScalarType storage) const {
  if (storage != at::kFloat && storage != at::kHalf && storage != at::kBFloat16)
    throw std::invalid_argument("QaModel::save: weights are stored as float32, float16 or bfloat16");
  if (is_int8()) throw std::invalid_argument("QaModel::save: an int8 model is for inference only; save the float one");
  fs::create_directories(dir);
  config_.save((fs::path(dir) / "config.json").string());
  std::map<std::string, at::Tensor> tensors;
  for (const auto& [name, t] : params_) tensors[name] = t.detach().to(at::kCPU, storage);
  save_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, {{"format", "pt"}});
}

QaLogits QaModel::forward(const EncoderInput& input, std::vector<at::Tensor>* layer_outputs) const {
  at::Tensor logits;
  if (config_.model_type == "big_bird") {
    // BigBirdForQuestionAnswering: token types from the first [SEP] when absent, the question masked out.
    const auto in = big_bird::with_question_types(input, config_.sep_token_id);
    logits = big_bird::qa_logits(params_, config_, encoder_->forward(in, layer_outputs), in).to(at::kFloat);
  } else if (config_.model_type == "modernbert") {
    logits = modernbert::qa_logits(params_, config_, encoder_->forward(input, layer_outputs)).to(at::kFloat);
  } else {
    logits = layers::linear(params_, "qa_outputs", encoder_->forward(input, layer_outputs)).to(at::kFloat);
  }
  auto pad = input.valid.logical_not();
  return {logits.select(-1, 0).masked_fill(pad, -INFINITY), logits.select(-1, 1).masked_fill(pad, -INFINITY)};
}

QaModel QaModel::converted(at::ScalarType dtype) const {
  QaModel copy(config_);
  for (const auto& [name, t] : params_) copy.params_[name] = (t.is_quantized() ? t.dequantize() : t.detach()).to(dtype);
  return copy;
}

QaModel QaModel::quantized_int8() const {
  QaModel copy(config_);
  for (const auto& [name, t] : params_) {
    if (t.is_quantized() || !t.is_cpu())
      throw std::invalid_argument("QaModel::quantized_int8: expects a float model on the CPU ('" + name + "' is not)");
    copy.params_[name] = layers::is_quantizable_linear_weight(name, t) ? layers::quantize_linear_weight(t)
                                                                      : t.detach().to(at::kFloat);
  }
  return copy;
}

bool QaModel::is_int8() const {
  for (const auto& [name, t] : params_)
    if (t.is_quantized()) return true;
  return false;
}

void QaModel::make_trainable() {
  for (auto& [name, t] : params_) t = t.detach().clone().requires_grad_(true);
}

void QaModel::to(const at::Device& device, at::ScalarType dtype) {
  for (auto& [name, t] : params_) t = t.to(device, dtype);
}

}  // namespace longqa
