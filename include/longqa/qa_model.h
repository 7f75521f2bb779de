// Encoders and the extractive-QA head. Parameters live in a flat name -> tensor
// map whose names equal the Hugging Face names (bert.encoder.layer.3.attention.self.query.weight,
// qa_outputs.weight), so loading and saving a checkpoint is a name-to-tensor copy.
#pragma once
#include <ATen/core/Tensor.h>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "longqa/model_config.h"

namespace longqa {

using NamedTensors = std::map<std::string, at::Tensor>;

// A batch of token sequences, padded to the same length.
struct EncoderInput {
  at::Tensor input_ids;       // (B,n) int64
  at::Tensor token_type_ids;  // (B,n) int64 (may be undefined: all zeros)
  at::Tensor valid;           // (B,n) bool, true = real token
};

// One encoder architecture (bert or littlebird). forward() returns the final
// hidden states (B,n,d).
class Encoder {
 public:
  virtual ~Encoder() = default;
  // With `layer_outputs`, each layer's output (B,n,d) is appended to it, first layer first
  // (the last one is the return value), e.g. for layer-by-layer distillation.
  virtual at::Tensor forward(const EncoderInput& input, std::vector<at::Tensor>* layer_outputs = nullptr) const = 0;
  const ModelConfig& config() const { return config_; }
  // Every parameter this architecture has, as (name, shape), in a fixed order.
  virtual std::vector<std::pair<std::string, std::vector<int64_t>>> parameter_shapes() const = 0;

 protected:
  Encoder(ModelConfig config, const NamedTensors* params) : config_(std::move(config)), params_(params) {}
  const at::Tensor& param(const std::string& name) const;  // throws naming the parameter when absent
  ModelConfig config_;
  const NamedTensors* params_;  // owned by the QaModel
};

struct QaLogits {
  at::Tensor start, end;  // (B,n) float32; padding positions hold -inf
};

// Encoder + QA head (qa_outputs: d -> 2).
class QaModel {
 public:
  // Random initialisation (BERT-style normal(0, initializer_range); LittleBird's own
  // parameters as documented in littlebird_encoder.cpp).
  static QaModel random(const ModelConfig& config, uint64_t seed);
  // From a model directory (config.json + model.safetensors or sharded index).
  // Missing, unexpected (unless ignorable, e.g. pooler) or mis-shaped tensors fail with
  // a message naming file and tensor. Weights are converted to float32 on load.
  static QaModel load(const std::string& dir);
  // The encoder, from a checkpoint with or without a QA head and with or without the
  // model prefix (BertModel / sentence-transformers checkpoints have none). A missing
  // QA head is initialised randomly (seed 0), ready for fine-tuning.
  static QaModel load_encoder(const std::string& dir);

  // Writes config.json and model.safetensors (atomically) into dir (created if needed), the
  // weights stored as `storage` (float32, float16 or bfloat16; they load as float32 again).
  void save(const std::string& dir, at::ScalarType storage = at::kFloat) const;

  // With `layer_outputs`, each encoder layer's output is appended to it (see Encoder).
  QaLogits forward(const EncoderInput& input, std::vector<at::Tensor>* layer_outputs = nullptr) const;
  at::Tensor encode(const EncoderInput& input, std::vector<at::Tensor>* layer_outputs = nullptr) const {
    return encoder_->forward(input, layer_outputs);
  }

  const ModelConfig& config() const { return config_; }
  NamedTensors& parameters() { return params_; }
  const NamedTensors& parameters() const { return params_; }
  void to(const at::Device& device, at::ScalarType dtype);
  // A copy whose parameters are `dtype` (on the same device); this model is unchanged.
  QaModel converted(at::ScalarType dtype) const;
  // A copy for int8 inference on the CPU: linear layers' weights quantized per output channel
  // (int8, used through fbgemm/oneDNN with activations quantized on the fly), everything else
  // float32. Inference only: it can neither be trained nor saved.
  QaModel quantized_int8() const;
  bool is_int8() const;
  // Gives every parameter its own writable memory (loading maps the file read-only)
  // and turns on gradients, for training.
  void make_trainable();
  // Every parameter of this config, as (name, shape): the encoder's and the QA head's.
  std::vector<std::pair<std::string, std::vector<int64_t>>> parameter_shapes() const;

  QaModel(QaModel&&) noexcept;
  QaModel& operator=(QaModel&&) noexcept;
  ~QaModel();

 private:
  explicit QaModel(ModelConfig config);
  static QaModel load_checkpoint(const std::string& dir, bool with_head);
  ModelConfig config_;
  NamedTensors params_;
  std::unique_ptr<Encoder> encoder_;
};

// Builds the encoder for config.model_type over the given parameter map.
std::unique_ptr<Encoder> make_encoder(const ModelConfig& config, const NamedTensors* params);

}  // namespace longqa
