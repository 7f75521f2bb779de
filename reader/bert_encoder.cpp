// BERT-family encoder (BERT, ELECTRA discriminator): dense attention and absolute
// positions, parameter names as in Hugging Face's BertModel / ElectraModel so that
// BertForQuestionAnswering and ElectraForQuestionAnswering checkpoints load unchanged.
#include "layers.h"

namespace longqa {
namespace {

class BertEncoder final : public Encoder {
 public:
  BertEncoder(const ModelConfig& config, const NamedTensors* params)
      : Encoder(config, params), prefix_(config.weight_prefix()) {}

  at::Tensor forward(const EncoderInput& input, std::vector<at::Tensor>* layer_outputs) const override {
    const auto& c = config_;
    auto x = layers::embeddings(*params_, prefix_ + ".embeddings", input, c, /*absolute_positions=*/true);
    if (has_projection()) x = layers::linear(*params_, prefix_ + ".embeddings_project", x);
    // (B,1,1,n): true where the key is a real token.
    const auto key_mask = input.valid.view({input.valid.size(0), 1, 1, input.valid.size(1)});
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string layer = prefix_ + ".encoder.layer." + std::to_string(i) + ".";
      x = layers::dense_layer(*params_, layer, x, key_mask, c);
      if (layer_outputs) layer_outputs->push_back(x);
    }
    return x;
  }

  layers::Shapes parameter_shapes() const override {
    const auto& c = config_;
    const int64_t e = embedding_width();
    layers::Shapes s;
    layers::add_embeddings(s, prefix_ + ".embeddings", c, e);
    if (has_projection()) layers::add_linear(s, prefix_ + ".embeddings_project", e, c.hidden_size);
    for (int64_t i = 0; i < c.num_hidden_layers; ++i)
      layers::add_dense_layer(s, prefix_ + ".encoder.layer." + std::to_string(i) + ".", c);
    return s;
  }

 private:
  int64_t embedding_width() const {
    return config_.embedding_size > 0 ? config_.embedding_size : config_.hidden_size;
  }
  bool has_projection() const { return embedding_width() != config_.hidden_size; }
  std::string prefix_;
};

}  // namespace

std::unique_ptr<Encoder> make_bert_encoder(const ModelConfig& config, const NamedTensors* params) {
  return std::make_unique<BertEncoder>(config, params);
}

}  // namespace longqa
