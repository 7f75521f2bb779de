// Longformer encoder (model_type "longformer"), parameter names as in Hugging Face's LongformerModel (called
// `longformer.` in LongformerForQuestionAnswering), so its checkpoints load unchanged.
//
// What it computes is what transformers' modeling_longformer.py computes in eval mode:
// - RoBERTa's embeddings: positions from padding_idx + 1 (pad_token_id), so a window holds
//   max_position_embeddings - pad_token_id - 1 tokens (4096 for the usual 4098).
// - Global attention on the tokens before the first sep_token_id of each row (<s> and the question), as
//   LongformerForQuestionAnswering sets it when no global_attention_mask is given.
// - Each layer: every other token attends, in one softmax, to the global tokens and to the non-global,
//   non-padding tokens within attention_window[layer] / 2 of it (HF's sliding chunks); each global token
//   attends to every non-padding token through the layer's own query_global / key_global / value_global
//   projections, and that output replaces its local one. Outputs of padding tokens are zero before the
//   attention's output dense, as in HF.
// HF pads the sequence to a multiple of the window; padding is never attended, so it changes nothing in the
// outputs of real tokens and is not needed here: the band runs through attention::banded_attention (blocks of
// window/2, linear in the length), the global rows are (G x n).
#include <cmath>

#include "layers.h"
#include "longqa/banded_attention.h"

namespace longqa {
namespace {

// The rows' global tokens: indices (B,G) with the globals of each row first (in order), and which slots are real.
struct GlobalTokens {
  at::Tensor index, real;  // (B,G) int64, (B,G) bool
  int64_t count = 0;       // G: the most globals in a row
};

GlobalTokens global_tokens(const at::Tensor& is_global) {
  GlobalTokens g;
  const auto per_row = is_global.sum(1);  // (B)
  g.count = per_row.numel() ? per_row.max().item<int64_t>() : 0;
  if (g.count == 0) return g;
  // A stable sort of "not global" puts each row's globals first, in their order. (The optional<bool> picks the
  // stable overload: a plain `true` would convert to the dim of sort(self, dim, descending).)
  g.index = std::get<1>(at::sort(is_global.logical_not().to(at::kInt), std::optional<bool>(true), 1)).narrow(1, 0, g.count);
  g.real = at::arange(g.count, per_row.options()).unsqueeze(0).lt(per_row.unsqueeze(1));
  return g;
}

// x (B,n,d) gathered at the rows' global slots: (B,G,d).
at::Tensor gather_rows(const at::Tensor& x, const at::Tensor& index) {
  return at::gather(x, 1, index.unsqueeze(-1).expand({index.size(0), index.size(1), x.size(2)}));
}

class LongformerEncoder final : public Encoder {
 public:
  LongformerEncoder(const ModelConfig& config, const NamedTensors* params)
      : Encoder(config, params), prefix_(config.weight_prefix()) {}

  at::Tensor forward(const EncoderInput& input, std::vector<at::Tensor>* layer_outputs) const override {
    const auto& c = config_;
    auto x = layers::roberta_embeddings(*params_, prefix_, input, c);
    const auto is_global = question_tokens(input.input_ids, c.sep_token_id).logical_and(input.valid);
    const auto globals = global_tokens(is_global);
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string layer = prefix_ + ".encoder.layer." + std::to_string(i) + ".";
      const auto context = self_attention(layer, x, input.valid, is_global, globals, c.attention_window_of(i));
      x = layers::post_attention(*params_, layer, context, x, c);
      if (layer_outputs) layer_outputs->push_back(x);
    }
    return x;
  }

  layers::Shapes parameter_shapes() const override {
    layers::Shapes s;
    layers::add_dense_encoder(s, prefix_, config_);
    for (int64_t i = 0; i < config_.num_hidden_layers; ++i)
      for (const char* p : {"query_global", "key_global", "value_global"})
        layers::add_linear(s, prefix_ + ".encoder.layer." + std::to_string(i) + ".attention.self." + p,
                           config_.hidden_size, config_.hidden_size);
    return s;
  }

 private:
  // HF's _compute_global_attention_mask(before_sep_token=True): positions before the first sep of the row.
  static at::Tensor question_tokens(const at::Tensor& input_ids, int64_t sep_token_id) {
    const auto is_sep = input_ids.eq(sep_token_id);
    const auto first_sep = at::where(is_sep.any(1), at::argmax(is_sep.to(at::kInt), 1), 0).unsqueeze(1);
    return at::arange(input_ids.size(1), input_ids.options()).unsqueeze(0).lt(first_sep);
  }

  at::Tensor self_attention(const std::string& layer, const at::Tensor& x, const at::Tensor& valid,
                            const at::Tensor& is_global, const GlobalTokens& g, int64_t window) const {
    const auto heads = config_.num_attention_heads;
    const double scale = 1.0 / std::sqrt(static_cast<double>(config_.head_dim()));
    const std::string self = layer + "attention.self.";
    attention::BandedInputs in;
    in.q = layers::split_heads(layers::linear(*params_, self + "query", x), heads);
    in.k = layers::split_heads(layers::linear(*params_, self + "key", x), heads);
    in.v = layers::split_heads(layers::linear(*params_, self + "value", x), heads);
    in.key_mask = valid.logical_and(is_global.logical_not());  // globals count once, as extra keys
    in.query_valid = valid;
    in.radius = window / 2;
    in.scale = scale;
    if (g.count == 0) return layers::merge_heads(attention::banded_attention(in));
    const auto index = g.index.view({g.index.size(0), 1, g.count, 1}).expand({-1, heads, -1, config_.head_dim()});
    in.extra_k = at::gather(in.k, 2, index);
    in.extra_v = at::gather(in.v, 2, index);
    in.extra_valid = g.real;
    auto context = layers::merge_heads(attention::banded_attention(in));  // (B,n,d)

    // The global tokens' own attention: every real key, through the *_global projections.
    const auto q = layers::split_heads(layers::linear(*params_, self + "query_global", gather_rows(x, g.index)), heads) * scale;
    const auto k = layers::split_heads(layers::linear(*params_, self + "key_global", x), heads);
    const auto v = layers::split_heads(layers::linear(*params_, self + "value_global", x), heads);
    const auto B = x.size(0), n = x.size(1);
    auto s = at::matmul(q, k.transpose(-1, -2)).masked_fill(valid.logical_not().view({B, 1, 1, n}),
                                                            std::numeric_limits<float>::lowest());
    const auto global_context = layers::merge_heads(at::matmul(at::softmax(s, -1), v));  // (B,G,d)
    // Overwrite the globals' rows; slots that are not real keep the row they point at.
    const auto slot = g.index.unsqueeze(-1).expand({B, g.count, x.size(2)});
    const auto kept = at::where(g.real.unsqueeze(-1), global_context, at::gather(context, 1, slot));
    return context.scatter(1, slot, kept);
  }

  std::string prefix_;
};

}  // namespace

std::unique_ptr<Encoder> make_longformer_encoder(const ModelConfig& config, const NamedTensors* params) {
  return std::make_unique<LongformerEncoder>(config, params);
}

}  // namespace longqa
