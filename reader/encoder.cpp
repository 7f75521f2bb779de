// Layer builders shared by the encoders, and the encoder factory.
#include "layers.h"

#include "blas_linear.h"

#include <stdexcept>

namespace longqa {

std::unique_ptr<Encoder> make_bert_encoder(const ModelConfig& config, const NamedTensors* params);
std::unique_ptr<Encoder> make_littlebird_encoder(const ModelConfig& config, const NamedTensors* params);
std::unique_ptr<Encoder> make_roberta_encoder(const ModelConfig& config, const NamedTensors* params);
std::unique_ptr<Encoder> make_big_bird_encoder(const ModelConfig& config, const NamedTensors* params);
std::unique_ptr<Encoder> make_longformer_encoder(const ModelConfig& config, const NamedTensors* params);
std::unique_ptr<Encoder> make_modernbert_encoder(const ModelConfig& config, const NamedTensors* params);

std::unique_ptr<Encoder> make_encoder(const ModelConfig& config, const NamedTensors* params) {
  if (config.model_type == "littlebird") return make_littlebird_encoder(config, params);
  if (config.model_type == "bert" || config.model_type == "electra") return make_bert_encoder(config, params);
  if (config.model_type == "roberta" || config.model_type == "xlm-roberta") return make_roberta_encoder(config, params);
  if (config.model_type == "big_bird") return make_big_bird_encoder(config, params);
  if (config.model_type == "longformer") return make_longformer_encoder(config, params);
  if (config.model_type == "modernbert") return make_modernbert_encoder(config, params);
  throw std::invalid_argument("unsupported model_type '" + config.model_type +
                              "' (supported: littlebird, bert, electra, roberta, xlm-roberta, big_bird, longformer, "
                              "modernbert)");
}

const at::Tensor& Encoder::param(const std::string& name) const { return layers::get(*params_, name); }

namespace layers {

const at::Tensor& get(const NamedTensors& params, const std::string& name) {
  auto it = params.find(name);
  if (it == params.end()) throw std::out_of_range("model has no parameter '" + name + "'");
  return it->second;
}

at::Tensor linear(const NamedTensors& params, const std::string& prefix, const at::Tensor& x) {
  return fast_linear(x, get(params, prefix + ".weight"), get(params, prefix + ".bias"));
}

at::Tensor layer_norm(const NamedTensors& params, const std::string& prefix, const at::Tensor& x, double eps) {
  return at::layer_norm(x, {x.size(-1)}, get(params, prefix + ".weight"), get(params, prefix + ".bias"), eps);
}

at::Tensor activation(const at::Tensor& x, const std::string& hidden_act) {
  if (hidden_act == "gelu") return at::gelu(x);
  if (hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh" || hidden_act == "gelu_fast")
    return at::gelu(x, "tanh");
  if (hidden_act == "relu") return at::relu(x);
  throw std::invalid_argument("unsupported hidden_act '" + hidden_act + "'");
}

at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  const auto b = x.size(0), n = x.size(1), d = x.size(2);
  return x.view({b, n, heads, d / heads}).transpose(1, 2);
}

at::Tensor merge_heads(const at::Tensor& x) {
  const auto b = x.size(0), h = x.size(1), n = x.size(2), dh = x.size(3);
  return x.transpose(1, 2).reshape({b, n, h * dh});
}

at::Tensor attention_output(const NamedTensors& params, const std::string& layer, const at::Tensor& context,
                            const at::Tensor& x, const ModelConfig& config) {
  return layer_norm(params, layer + "attention.output.LayerNorm",
                    linear(params, layer + "attention.output.dense", context) + x, config.layer_norm_eps);
}

at::Tensor feed_forward(const NamedTensors& params, const std::string& layer, const at::Tensor& a,
                        const ModelConfig& config) {
  auto h = activation(linear(params, layer + "intermediate.dense", a), config.hidden_act);
  h = linear(params, layer + "output.dense", h);
  return layer_norm(params, layer + "output.LayerNorm", h + a, config.layer_norm_eps);
}

at::Tensor post_attention(const NamedTensors& params, const std::string& layer, const at::Tensor& context,
                          const at::Tensor& x, const ModelConfig& config) {
  auto block = [&](const at::Tensor& c, const at::Tensor& h) {
    return feed_forward(params, layer, attention_output(params, layer, c, h, config), config);
  };
  constexpr int64_t kChunkTokens = 2048;  // x 1536 FFN floats: 12 MB, within L3 with the rest
  const bool grad = at::GradMode::is_enabled() && (x.requires_grad() || context.requires_grad());
  if (grad || x.dim() != 3) return block(context, x);
  const int64_t batch = x.size(0), n = x.size(1);
  const int64_t chunk = std::max<int64_t>(1, kChunkTokens / std::max<int64_t>(batch, 1));
  if (n <= chunk) return block(context, x);
  auto out = at::empty_like(x);
  for (int64_t first = 0; first < n; first += chunk) {
    const int64_t len = std::min(chunk, n - first);
    out.narrow(1, first, len).copy_(block(context.narrow(1, first, len), x.narrow(1, first, len)));
  }
  return out;
}

at::Tensor embeddings(const NamedTensors& params, const std::string& prefix, const EncoderInput& input,
                      const ModelConfig& config, bool absolute_positions) {
  const auto& ids = input.input_ids;
  const auto n = ids.size(1);
  at::Tensor positions;
  if (absolute_positions) {
    if (n > config.max_position_embeddings)
      throw std::invalid_argument("sequence of " + std::to_string(n) + " tokens exceeds max_position_embeddings " +
                                  std::to_string(config.max_position_embeddings));
    positions = at::arange(n, ids.options());
  }
  return embeddings(params, prefix, input, config, positions);
}

at::Tensor embeddings(const NamedTensors& params, const std::string& prefix, const EncoderInput& input,
                      const ModelConfig& config, const at::Tensor& positions, double word_scale) {
  const auto& ids = input.input_ids;
  auto x = at::embedding(get(params, prefix + ".word_embeddings.weight"), ids);
  if (word_scale != 1.0) x = x * word_scale;
  at::Tensor types = input.token_type_ids.defined() ? input.token_type_ids : at::zeros_like(ids);
  x = x + at::embedding(get(params, prefix + ".token_type_embeddings.weight"), types);
  if (positions.defined()) {
    auto p = at::embedding(get(params, prefix + ".position_embeddings.weight"), positions);
    x = x + (positions.dim() == 1 ? p.unsqueeze(0) : p);
  }
  return layer_norm(params, prefix + ".LayerNorm", x, config.layer_norm_eps);
}

at::Tensor padding_aware_positions(const at::Tensor& input_ids, int64_t padding_idx) {
  const auto mask = input_ids.ne(padding_idx).to(at::kLong);
  return at::cumsum(mask, 1) * mask + padding_idx;
}

at::Tensor roberta_embeddings(const NamedTensors& params, const std::string& prefix, const EncoderInput& input,
                              const ModelConfig& config) {
  const auto n = input.input_ids.size(1);
  if (n > config.max_window_tokens())
    throw std::invalid_argument("sequence of " + std::to_string(n) + " tokens exceeds the " +
                                std::to_string(config.max_window_tokens()) + " positions of this " + config.model_type +
                                " model (max_position_embeddings - pad_token_id - 1)");
  return embeddings(params, prefix + ".embeddings", input, config,
                    padding_aware_positions(input.input_ids, config.pad_token_id));
}

at::Tensor dense_layer(const NamedTensors& params, const std::string& layer, const at::Tensor& x,
                       const at::Tensor& key_mask, const ModelConfig& config) {
  const auto heads = config.num_attention_heads;
  auto q = split_heads(linear(params, layer + "attention.self.query", x), heads);
  auto k = split_heads(linear(params, layer + "attention.self.key", x), heads);
  auto v = split_heads(linear(params, layer + "attention.self.value", x), heads);
  auto context = merge_heads(at::scaled_dot_product_attention(q, k, v, key_mask));
  return post_attention(params, layer, context, x, config);
}

at::Tensor mean_pool(const at::Tensor& hidden, const at::Tensor& valid) {
  const auto weights = valid.to(hidden.scalar_type()).unsqueeze(-1);
  return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0);
}

EncoderInput single_segment_batch(const std::vector<const std::vector<int32_t>*>& sequences, int64_t max_tokens,
                                  int32_t cls_id, int32_t sep_id, int32_t pad_id) {
  const int64_t batch = static_cast<int64_t>(sequences.size());
  int64_t n = 2;
  for (const auto* s : sequences) n = std::max<int64_t>(n, std::min<int64_t>(max_tokens, static_cast<int64_t>(s->size()) + 2));
  auto ids = at::full({batch, n}, pad_id, at::kLong);
  auto valid = at::zeros({batch, n}, at::kBool);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto valid_a = valid.accessor<bool, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto& s = *sequences[b];
    const int64_t body = std::min<int64_t>(static_cast<int64_t>(s.size()), max_tokens - 2);
    ids_a[b][0] = cls_id;
    for (int64_t i = 0; i < body; ++i) ids_a[b][i + 1] = s[i];
    ids_a[b][body + 1] = sep_id;
    for (int64_t i = 0; i < body + 2; ++i) valid_a[b][i] = true;
  }
  return {ids, at::zeros({batch, n}, at::kLong), valid};
}

void add_linear(Shapes& shapes, const std::string& prefix, int64_t in, int64_t out) {
  shapes.push_back({prefix + ".weight", {out, in}});
  shapes.push_back({prefix + ".bias", {out}});
}

void add_layer_norm(Shapes& shapes, const std::string& prefix, int64_t d) {
  shapes.push_back({prefix + ".weight", {d}});
  shapes.push_back({prefix + ".bias", {d}});
}

void add_feed_forward(Shapes& shapes, const std::string& layer, const ModelConfig& config) {
  add_linear(shapes, layer + "intermediate.dense", config.hidden_size, config.intermediate_size);
  add_linear(shapes, layer + "output.dense", config.intermediate_size, config.hidden_size);
  add_layer_norm(shapes, layer + "output.LayerNorm", config.hidden_size);
}

void add_dense_encoder(Shapes& shapes, const std::string& prefix, const ModelConfig& config) {
  add_embeddings(shapes, prefix + ".embeddings", config, config.hidden_size);
  for (int64_t i = 0; i < config.num_hidden_layers; ++i)
    add_dense_layer(shapes, prefix + ".encoder.layer." + std::to_string(i) + ".", config);
}

void add_dense_layer(Shapes& shapes, const std::string& layer, const ModelConfig& config) {
  for (const char* p : {"query", "key", "value"})
    add_linear(shapes, layer + "attention.self." + p, config.hidden_size, config.hidden_size);
  add_linear(shapes, layer + "attention.output.dense", config.hidden_size, config.hidden_size);
  add_layer_norm(shapes, layer + "attention.output.LayerNorm", config.hidden_size);
  add_feed_forward(shapes, layer, config);
}

void add_embeddings(Shapes& shapes, const std::string& prefix, const ModelConfig& config, int64_t width) {
  shapes.push_back({prefix + ".word_embeddings.weight", {config.vocab_size, width}});
  shapes.push_back({prefix + ".position_embeddings.weight", {config.max_position_embeddings, width}});
  shapes.push_back({prefix + ".token_type_embeddings.weight", {config.type_vocab_size, width}});
  add_layer_norm(shapes, prefix + ".LayerNorm", width);
}

}  // namespace layers
}  // namespace longqa
