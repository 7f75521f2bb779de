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
  // A model directory: HF config.json + model.safetensors (or a sharded index) + tokenizer
  // files, optionally in a sentence-transformers layout (modules.json naming the Transformer's
  // folder, its Pooling config and a Normalize module; sentence_bert_config.json's
  // max_seq_length) which decides pooling, normalisation and length. Without modules.json:
  // mean pooling, L2-normalised, as long as the model's positions allow. Modules other than
  // Transformer/Pooling/Normalize and pooling modes other than mean/CLS/max are refused.
  // The model runs on `device` ("cpu", "cuda", "cuda:1").
  static TextEncoder load(const std::string& dir, const std::string& device = "cpu");

  // (N, dimension) float32 embeddings on the CPU: [CLS] tokens [SEP], cut to max_tokens();
  // texts are sorted by length and encoded in batches of batch_size.
  at::Tensor encode(const std::vector<std::string>& texts, int64_t batch_size = 32) const;

  int64_t dimension() const;
  int64_t max_tokens() const { return max_tokens_; }
  Pooling pooling() const { return pooling_; }
  bool normalized() const { return normalize_; }
  // Identifies what the embeddings depend on (a 64-bit checksum, 16 hex digits, of config.json,
  // the weight files' bytes, the vocabulary and the pooling settings): an index built with
  // one encoder refuses another.
  const std::string& id() const { return id_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  std::shared_ptr<const QaModel> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  Pooling pooling_ = Pooling::kMean;
  bool normalize_ = true;
  int64_t max_tokens_ = 256;
  c10::Device device_ = c10::kCPU;
  std::string id_;
};

}  // namespace longqa
