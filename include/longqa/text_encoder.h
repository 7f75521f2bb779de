// Dense text embeddings from a BERT-family encoder with sentence-transformers pooling
// (mean / CLS / max, optional L2 normalisation), e.g. all-MiniLM-L6-v2.
#pragma once
#include <ATen/core/Tensor.h>
#include <memory>
#include <string>
#include <vector>

namespace longqa {

class QaModel;
class Tokenizer;

enum class Pooling { kMean, kCls, kMax };

class TextEncoder {
 public:
  // A model directory: HF config.json + model.safetensors (+ tokenizer files), optionally a
  // sentence-transformers layout (modules.json, 1_Pooling/config.json, a Normalize module,
  // sentence_bert_config.json max_seq_length) which decides pooling, normalisation and length.
  static TextEncoder load(const std::string& dir);

  // (N, dimension) float32 embeddings on the CPU; texts encoded in batches of batch_size.
  at::Tensor encode(const std::vector<std::string>& texts, int64_t batch_size = 32) const;

  int64_t dimension() const;
  int64_t max_tokens() const { return max_tokens_; }
  // Identifies the weights (a checksum of config.json and the weight files' bytes): an index
  // built with one encoder refuses another.
  const std::string& id() const { return id_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  std::shared_ptr<const QaModel> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  Pooling pooling_ = Pooling::kMean;
  bool normalize_ = true;
  int64_t max_tokens_ = 256;
  std::string id_;
};

}  // namespace longqa
