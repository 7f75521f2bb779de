// ModernBERT encoder (model_type "modernbert"; ModernBERT and mmBERT), parameter names as in Hugging Face's
// ModernBertModel (called `model.` in ModernBertForQuestionAnswering), so its checkpoints load unchanged; and
// the ModernBertForQuestionAnswering head.
//
// What it computes is what transformers' modeling_modernbert.py computes in eval mode:
// - tok_embeddings, then LayerNorm (norm); no positions or token types in the embeddings.
// - Pre-norm layers: x + Wo(attention(attn_norm(x))) (layer 0 has no attn_norm), then
//   x + mlp.Wo(act(a) * g) with [a, g] = mlp.Wi(mlp_norm(x)) (GeGLU); a final_norm after the last layer.
// - Attention: Wqkv, RoPE on queries and keys (positions 0..n-1, base global_rope_theta in full-attention
//   layers and local_rope_theta in sliding ones), softmax(q.k / sqrt(dh)) over the real keys; sliding layers
//   only over keys with |i - j| <= local_attention / 2 (through attention::banded_attention, linear in the
//   length), full layers over every key.
// - Linear and LayerNorm biases only where attention_bias, mlp_bias, norm_bias, classifier_bias say so.
// - The QA head: head.dense, classifier_activation, head.norm, then classifier (hidden -> 2, with a bias).
#include <cmath>

#include "layers.h"
#include "blas_linear.h"
#include "longqa/banded_attention.h"
#include "modernbert_encoder.h"

namespace longqa {
namespace {

// The bias of `prefix` when the config gives this kind of layer one, else undefined.
at::Tensor optional_bias(const NamedTensors& params, const std::string& prefix, bool has_bias) {
  return has_bias ? layers::get(params, prefix + ".bias") : at::Tensor();
}

at::Tensor rotate_half(const at::Tensor& x) {
  const auto half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// HF's default RoPE: cos/sin of positions times 1 / theta^(2i/dh), each frequency twice. (n, dh) each.
std::pair<at::Tensor, at::Tensor> rope_tables(int64_t n, int64_t dh, double theta, const at::TensorOptions& options) {
  const auto f32 = options.dtype(at::kFloat);
  const auto inv_freq = 1.0 / at::pow(theta, at::arange(0, dh, 2, f32) / static_cast<double>(dh));
  const auto freqs = at::arange(n, f32).unsqueeze(1) * inv_freq.unsqueeze(0);
  const auto emb = at::cat({freqs, freqs}, -1);
  return {emb.cos().to(options.dtype()), emb.sin().to(options.dtype())};
}

class ModernBertEncoder final : public Encoder {
 public:
  ModernBertEncoder(const ModelConfig& config, const NamedTensors* params)
      : Encoder(config, params), prefix_(config.weight_prefix()) {}

  at::Tensor forward(const EncoderInput& input, std::vector<at::Tensor>* layer_outputs) const override {
    const auto& c = config_;
    const auto n = input.input_ids.size(1);
    if (n > c.max_position_embeddings)
      throw std::invalid_argument("sequence of " + std::to_string(n) + " tokens exceeds max_position_embeddings " +
                                  std::to_string(c.max_position_embeddings));
    auto x = norm(prefix_ + ".embeddings.norm",
                  at::embedding(param(prefix_ + ".embeddings.tok_embeddings.weight"), input.input_ids));
    const auto dh = c.head_dim();
    const auto global_rope = rope_tables(n, dh, c.global_rope_theta, x.options());
    const auto local_rope = rope_tables(n, dh, c.local_rope_theta, x.options());
    const auto key_mask = input.valid.view({input.valid.size(0), 1, 1, n});
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string layer = prefix_ + ".layers." + std::to_string(i) + ".";
      const bool global = c.is_global_layer(i);
      const auto h = i == 0 ? x : norm(layer + "attn_norm", x);
      x = x + attention(layer + "attn.", h, global ? global_rope : local_rope, global, key_mask, input.valid);
      const auto gated = linear(layer + "mlp.Wi", norm(layer + "mlp_norm", x), c.mlp_bias).chunk(2, -1);
      x = x + linear(layer + "mlp.Wo", layers::activation(gated[0], c.hidden_act) * gated[1], c.mlp_bias);
      if (layer_outputs) layer_outputs->push_back(x);
    }
    x = norm(prefix_ + ".final_norm", x);
    if (layer_outputs) layer_outputs->back() = x;  // the last layer's output is the return value
    return x;
  }

  layers::Shapes parameter_shapes() const override {
    const auto& c = config_;
    const auto d = c.hidden_size;
    layers::Shapes s;
    s.push_back({prefix_ + ".embeddings.tok_embeddings.weight", {c.vocab_size, d}});
    add_norm(s, c, prefix_ + ".embeddings.norm");
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string layer = prefix_ + ".layers." + std::to_string(i) + ".";
      if (i > 0) add_norm(s, c, layer + "attn_norm");
      add_linear(s, layer + "attn.Wqkv", d, 3 * d, c.attention_bias);
      add_linear(s, layer + "attn.Wo", d, d, c.attention_bias);
      add_norm(s, c, layer + "mlp_norm");
      add_linear(s, layer + "mlp.Wi", d, 2 * c.intermediate_size, c.mlp_bias);
      add_linear(s, layer + "mlp.Wo", c.intermediate_size, d, c.mlp_bias);
    }
    add_norm(s, c, prefix_ + ".final_norm");
    return s;
  }

 private:
  at::Tensor linear(const std::string& prefix, const at::Tensor& x, bool has_bias) const {
    return layers::fast_linear(x, param(prefix + ".weight"), optional_bias(*params_, prefix, has_bias));
  }
  at::Tensor norm(const std::string& prefix, const at::Tensor& x) const {
    return at::layer_norm(x, {x.size(-1)}, param(prefix + ".weight"), optional_bias(*params_, prefix, config_.norm_bias),
                          config_.layer_norm_eps);
  }

  at::Tensor attention(const std::string& attn, const at::Tensor& h, const std::pair<at::Tensor, at::Tensor>& rope,
                       bool global, const at::Tensor& key_mask, const at::Tensor& valid) const {
    const auto& c = config_;
    const auto B = h.size(0), n = h.size(1), H = c.num_attention_heads, dh = c.head_dim();
    const auto qkv = linear(attn + "Wqkv", h, c.attention_bias).view({B, n, 3, H, dh});
    const auto& [cos, sin] = rope;
    const auto rotate = [&](const at::Tensor& t) {  // (B,n,H,dh) -> (B,H,n,dh), rotated
      const auto x = t.transpose(1, 2);
      return x * cos + rotate_half(x) * sin;
    };
    const auto q = rotate(qkv.select(2, 0)), k = rotate(qkv.select(2, 1));
    const auto v = qkv.select(2, 2).transpose(1, 2);
    at::Tensor context;
    if (global) {
      context = at::scaled_dot_product_attention(q, k, v, key_mask);
    } else {
      attention::BandedInputs in;
      in.q = q, in.k = k, in.v = v;
      in.key_mask = valid;
      in.query_valid = valid;
      in.radius = c.local_attention / 2;
      in.scale = 1.0 / std::sqrt(static_cast<double>(dh));
      context = attention::banded_attention(in);
    }
    return linear(attn + "Wo", layers::merge_heads(context), c.attention_bias);
  }

  static void add_linear(layers::Shapes& s, const std::string& prefix, int64_t in, int64_t out, bool bias) {
    s.push_back({prefix + ".weight", {out, in}});
    if (bias) s.push_back({prefix + ".bias", {out}});
  }
  static void add_norm(layers::Shapes& s, const ModelConfig& c, const std::string& prefix) {
    s.push_back({prefix + ".weight", {c.hidden_size}});
    if (c.norm_bias) s.push_back({prefix + ".bias", {c.hidden_size}});
  }

  std::string prefix_;
};

}  // namespace

std::unique_ptr<Encoder> make_modernbert_encoder(const ModelConfig& config, const NamedTensors* params) {
  return std::make_unique<ModernBertEncoder>(config, params);
}

namespace modernbert {

void add_qa_head(layers::Shapes& shapes, const ModelConfig& config) {
  const auto d = config.hidden_size;
  shapes.push_back({"head.dense.weight", {d, d}});
  if (config.classifier_bias) shapes.push_back({"head.dense.bias", {d}});
  shapes.push_back({"head.norm.weight", {d}});
  if (config.norm_bias) shapes.push_back({"head.norm.bias", {d}});
  layers::add_linear(shapes, "classifier", d, 2);
}

at::Tensor qa_logits(const NamedTensors& params, const ModelConfig& config, const at::Tensor& hidden) {
  auto h = layers::fast_linear(hidden, layers::get(params, "head.dense.weight"),
                             optional_bias(params, "head.dense", config.classifier_bias));
  h = layers::activation(h, config.classifier_activation);
  h = at::layer_norm(h, {h.size(-1)}, layers::get(params, "head.norm.weight"),
                     optional_bias(params, "head.norm", config.norm_bias), config.layer_norm_eps);
  return layers::linear(params, "classifier", h);
}

}  // namespace modernbert
}  // namespace longqa
