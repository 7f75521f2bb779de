// RoBERTa-family encoder (RoBERTa, XLM-RoBERTa): BERT's layers with RoBERTa's positions, parameter names as in
// Hugging Face's RobertaModel (RobertaForQuestionAnswering and XLMRobertaForQuestionAnswering both name it
// `roberta.`), so their checkpoints load unchanged.
//
// Positions follow HF's create_position_ids_from_input_ids: tokens that are not pad_token_id (the padding_idx)
// get padding_idx + 1, padding_idx + 2, ... in order, padding tokens get padding_idx. A window therefore holds
// max_position_embeddings - padding_idx - 1 tokens. The type vocabulary is usually 1 (all zeros).
#include "layers.h"

namespace longqa {
namespace {

class RobertaEncoder final : public Encoder {
 public:
  RobertaEncoder(const ModelConfig& config, const NamedTensors* params)
      : Encoder(config, params), prefix_(config.weight_prefix()) {}

  at::Tensor forward(const EncoderInput& input, std::vector<at::Tensor>* layer_outputs) const override {
    const auto& c = config_;
    auto x = layers::roberta_embeddings(*params_, prefix_, input, c);
    const auto key_mask = input.valid.view({input.valid.size(0), 1, 1, input.valid.size(1)});
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      x = layers::dense_layer(*params_, prefix_ + ".encoder.layer." + std::to_string(i) + ".", x, key_mask, c);
      if (layer_outputs) layer_outputs->push_back(x);
    }
    return x;
  }

  layers::Shapes parameter_shapes() const override {
    layers::Shapes s;
    layers::add_dense_encoder(s, prefix_, config_);
    return s;
  }

 private:
  std::string prefix_;
};

}  // namespace

std::unique_ptr<Encoder> make_roberta_encoder(const ModelConfig& config, const NamedTensors* params) {
  return std::make_unique<RobertaEncoder>(config, params);
}

}  // namespace longqa
