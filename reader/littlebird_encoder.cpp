// LittleBird encoder (research/littlebird.md §0.1): no absolute positions (or, with
// position_embedding_type "cyclic", a converted BERT's table reused every max_position_embeddings
// tokens, which keeps what the BERT learned about word order at any length); each layer
// packs the sequence into s packed states (pack attention), then every token attends in
// one softmax to the packed context and its blocked sliding window, with the BiALiBi bias.
//
// Parameter names follow the BERT layout so that `model convert --from-bert` is a copy:
//   littlebird.embeddings.{word_embeddings,token_type_embeddings,LayerNorm} (+ position_embeddings: cyclic)
//   littlebird.encoder.pack_sequence                         (s, d) the layer-0 packed input P
//   littlebird.encoder.layer.N.attention.self.{query,key,value}     shared by unpack and window keys
//   littlebird.encoder.layer.N.attention.self.bialibi_{alpha,beta,gamma}   (H) each
//   littlebird.encoder.layer.N.attention.output.{dense,LayerNorm}
//   littlebird.encoder.layer.N.pack_attention.self.{query,key,value}
//   littlebird.encoder.layer.N.pack_attention.output.{dense,LayerNorm}
//   littlebird.encoder.layer.N.{intermediate.dense,output.dense,output.LayerNorm}
#include "layers.h"

#include "longqa/attention.h"

namespace longqa {
namespace {

class LittleBirdEncoder final : public Encoder {
 public:
  LittleBirdEncoder(const ModelConfig& config, const NamedTensors* params) : Encoder(config, params) {}

  at::Tensor forward(const EncoderInput& input, std::vector<at::Tensor>* layer_outputs) const override {
    const auto& c = config_;
    const int64_t heads = c.num_attention_heads;
    const std::string prefix = c.weight_prefix();
    at::Tensor positions;
    if (c.has_cyclic_positions())
      positions = at::remainder(at::arange(input.input_ids.size(1), input.input_ids.options()),
                                c.max_position_embeddings);
    auto x = layers::embeddings(*params_, prefix + ".embeddings", input, c, positions);
    const auto batch = x.size(0);
    auto p = param(prefix + ".encoder.pack_sequence").unsqueeze(0).expand({batch, c.pack_size, c.hidden_size});
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string layer = prefix + ".encoder.layer." + std::to_string(i) + ".";
      auto proj = [&](const std::string& name, const at::Tensor& t) {
        return layers::split_heads(layers::linear(*params_, layer + name, t), heads);
      };
      // Pack: Cp = Attn(P, X); P' = LN(Cp + P).
      auto packed_context = layers::linear(
          *params_, layer + "pack_attention.output.dense",
          layers::merge_heads(attention::pack_attention(proj("pack_attention.self.query", p),
                                                        proj("pack_attention.self.key", x),
                                                        proj("pack_attention.self.value", x), input.valid)));
      // Unpack + sliding window, one softmax; the token key/value projections also map Cp
      // (before its LayerNorm), as in the paper's formula.
      attention::UswInputs usw;
      usw.q = proj("attention.self.query", x);
      usw.k = proj("attention.self.key", x);
      usw.v = proj("attention.self.value", x);
      usw.packed_k = proj("attention.self.key", packed_context);
      usw.packed_v = proj("attention.self.value", packed_context);
      usw.valid = input.valid;
      usw.bias = {param(layer + "attention.self.bialibi_alpha"), param(layer + "attention.self.bialibi_beta"),
                  param(layer + "attention.self.bialibi_gamma"), c.bialibi_max_distance};
      usw.block_size = c.block_size;
      auto context = layers::merge_heads(attention::usw_attention(usw));
      p = layers::layer_norm(*params_, layer + "pack_attention.output.LayerNorm", packed_context + p,
                             c.layer_norm_eps);
      x = layers::post_attention(*params_, layer, context, x, c);
      if (layer_outputs) layer_outputs->push_back(x);
    }
    return x;
  }

  layers::Shapes parameter_shapes() const override {
    const auto& c = config_;
    const int64_t d = c.hidden_size;
    const std::string prefix = c.weight_prefix();
    layers::Shapes s;
    s.push_back({prefix + ".embeddings.word_embeddings.weight", {c.vocab_size, d}});
    s.push_back({prefix + ".embeddings.token_type_embeddings.weight", {c.type_vocab_size, d}});
    if (c.has_cyclic_positions())
      s.push_back({prefix + ".embeddings.position_embeddings.weight", {c.max_position_embeddings, d}});
    layers::add_layer_norm(s, prefix + ".embeddings.LayerNorm", d);
    s.push_back({prefix + ".encoder.pack_sequence", {c.pack_size, d}});
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string layer = prefix + ".encoder.layer." + std::to_string(i) + ".";
      for (const char* block : {"attention", "pack_attention"}) {
        for (const char* p : {"query", "key", "value"})
          layers::add_linear(s, layer + block + ".self." + p, d, d);
        layers::add_linear(s, layer + block + ".output.dense", d, d);
        layers::add_layer_norm(s, layer + block + ".output.LayerNorm", d);
      }
      for (const char* p : {"alpha", "beta", "gamma"})
        s.push_back({layer + "attention.self.bialibi_" + p, {c.num_attention_heads}});
      layers::add_feed_forward(s, layer, c);
    }
    return s;
  }
};

}  // namespace

std::unique_ptr<Encoder> make_littlebird_encoder(const ModelConfig& config, const NamedTensors* params) {
  return std::make_unique<LittleBirdEncoder>(config, params);
}

}  // namespace longqa
