// BigBird encoder (model_type "big_bird"), parameter names as in Hugging Face's BigBirdModel (called `bert.` in
// BigBirdForQuestionAnswering), so KoBigBird-style checkpoints load unchanged; and its QA head.
//
// What it computes is what transformers' modeling_big_bird.py computes in eval mode:
// - attention_type "original_full", or any batch of at most (5 + 2 * num_random_blocks) * block_size tokens
//   (HF's fallback: it then switches the model to original_full): BERT's dense attention.
// - "block_sparse" otherwise: the batch is padded to a multiple of block_size (pad_token_id, token type 0, not
//   attended to; positions run on over the padding) and split into nb blocks. The first and last query blocks
//   attend to every key. Query block 1 attends to key blocks 0, 1, 2, nb-1; block nb-2 to 0, nb-3, nb-2, nb-1;
//   every other block i to 0, i-1, i, i+1, nb-1. Each of those rows also attends to num_random_blocks "random"
//   blocks: at inference HF draws no random numbers and its random-block table is all zeros, so these are block 0
//   again, num_random_blocks more times (block 0's keys count 1 + num_random_blocks times in those softmaxes). Masked
//   keys get -10000 added, as in HF, and outputs of padding queries are zeroed (HF's from_mask).
// The sparse path gathers each query block's key blocks into a (5 + num_random_blocks) * block_size wide tensor, so
// time and memory grow linearly with the length; no n x n mask is built.
#include "big_bird_encoder.h"

#include <cmath>
#include <stdexcept>

namespace longqa {
namespace {

constexpr double kMaskPenalty = -10000.0;  // HF's attn_mask_penalty

// Block-sparse attention in eval mode. q, k, v: (B,H,N,dh) with N = nb * bs; valid: (B,N) bool.
at::Tensor block_sparse_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const at::Tensor& valid, int64_t bs, int64_t num_random) {
  const auto B = q.size(0), H = q.size(1), N = q.size(2), dh = q.size(3);
  const int64_t nb = N / bs;
  const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
  const auto mask = valid.to(q.scalar_type());             // (B,N) 1 = real token
  const auto penalty = (1.0 - mask) * kMaskPenalty;         // (B,N)
  const auto qb = q.view({B, H, nb, bs, dh});
  const auto kb = k.view({B, H, nb, bs, dh});
  const auto vb = v.view({B, H, nb, bs, dh});

  // Global query blocks 0 and nb-1: every key.
  auto qg = at::cat({qb.select(2, 0), qb.select(2, nb - 1)}, 2);  // (B,H,2bs,dh)
  auto sg = at::matmul(qg, k.transpose(-1, -2)) * scale + penalty.view({B, 1, 1, N});
  auto cg = at::matmul(at::softmax(sg, -1), v).view({B, H, 2, bs, dh});

  // Query blocks 1 .. nb-2: a table of key blocks per row, the last slot unused (masked) in rows 1 and nb-2.
  const int64_t m = nb - 2, slots = 5 + num_random;
  auto table = at::zeros({m, slots}, at::kLong);
  auto active = at::ones({m, slots}, at::kBool);
  auto t = table.accessor<int64_t, 2>();
  auto a = active.accessor<bool, 2>();
  for (int64_t row = 0; row < m; ++row) {
    const int64_t i = row + 1;
    int64_t window[4];
    if (i == 1) {
      window[0] = 0, window[1] = 1, window[2] = 2, window[3] = nb - 1;
    } else if (i == nb - 2) {
      window[0] = 0, window[1] = nb - 3, window[2] = nb - 2, window[3] = nb - 1;
    } else {
      window[0] = 0, window[1] = i - 1, window[2] = i, window[3] = i + 1;
    }
    for (int j = 0; j < 4; ++j) t[row][j] = window[j];
    for (int64_t j = 0; j < num_random; ++j) t[row][4 + j] = 0;  // HF's eval-mode random blocks: block 0
    if (i == 1 || i == nb - 2) {
      t[row][slots - 1] = 0;
      a[row][slots - 1] = false;
    } else {
      t[row][slots - 1] = nb - 1;  // the last (global) block
    }
  }
  table = table.to(q.device());
  const auto flat = table.view({-1});
  auto keys = kb.index_select(2, flat).view({B, H, m, slots * bs, dh});
  auto values = vb.index_select(2, flat).view({B, H, m, slots * bs, dh});
  auto key_penalty = penalty.view({B, nb, bs}).index_select(1, flat).view({B, m, slots, bs});
  key_penalty = key_penalty + at::where(active.to(q.device()), 0.0, kMaskPenalty).to(q.scalar_type()).view({1, m, slots, 1});
  auto qm = qb.narrow(2, 1, m);  // (B,H,m,bs,dh)
  auto sm = at::matmul(qm, keys.transpose(-1, -2)) * scale + key_penalty.view({B, 1, m, 1, slots * bs});
  auto cm = at::matmul(at::softmax(sm, -1), values);  // (B,H,m,bs,dh)

  auto context = at::cat({cg.narrow(2, 0, 1), cm, cg.narrow(2, 1, 1)}, 2).view({B, H, N, dh});
  return context * mask.view({B, 1, N, 1});
}

class BigBirdEncoder final : public Encoder {
 public:
  BigBirdEncoder(const ModelConfig& config, const NamedTensors* params)
      : Encoder(config, params), prefix_(config.weight_prefix()) {}

  at::Tensor forward(const EncoderInput& input, std::vector<at::Tensor>* layer_outputs) const override {
    const auto& c = config_;
    const int64_t n = input.input_ids.size(1);
    const int64_t bs = c.block_size;
    const bool sparse = c.attention_type == "block_sparse" && n > (5 + 2 * c.num_random_blocks) * bs;
    EncoderInput in = input;
    if (!in.token_type_ids.defined()) in.token_type_ids = at::zeros_like(in.input_ids);
    const int64_t padding = sparse ? (bs - n % bs) % bs : 0;
    if (padding > 0) {
      in.input_ids = at::constant_pad_nd(in.input_ids, {0, padding}, c.pad_token_id);
      in.token_type_ids = at::constant_pad_nd(in.token_type_ids, {0, padding}, 0);
      in.valid = at::constant_pad_nd(in.valid, {0, padding}, 0);
    }
    const int64_t total = n + padding;
    if (total > c.max_position_embeddings)
      throw std::invalid_argument("sequence of " + std::to_string(n) + " tokens" +
                                  (padding ? " (" + std::to_string(total) + " padded to the block)" : std::string()) +
                                  " exceeds max_position_embeddings " + std::to_string(c.max_position_embeddings));
    const double word_scale = c.rescale_embeddings ? std::sqrt(static_cast<double>(c.hidden_size)) : 1.0;
    auto x = layers::embeddings(*params_, prefix_ + ".embeddings", in, c, at::arange(total, in.input_ids.options()),
                                word_scale);
    const auto key_mask = in.valid.view({in.valid.size(0), 1, 1, total});
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string layer = prefix_ + ".encoder.layer." + std::to_string(i) + ".";
      if (sparse) {
        const auto heads = c.num_attention_heads;
        auto q = layers::split_heads(layers::linear(*params_, layer + "attention.self.query", x), heads);
        auto k = layers::split_heads(layers::linear(*params_, layer + "attention.self.key", x), heads);
        auto v = layers::split_heads(layers::linear(*params_, layer + "attention.self.value", x), heads);
        auto context = layers::merge_heads(block_sparse_attention(q, k, v, in.valid, bs, c.num_random_blocks));
        x = layers::post_attention(*params_, layer, context, x, c);
      } else {
        x = layers::dense_layer(*params_, layer, x, key_mask, c);
      }
      if (layer_outputs) layer_outputs->push_back(padding ? x.narrow(1, 0, n) : x);
    }
    return padding ? x.narrow(1, 0, n) : x;
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

std::unique_ptr<Encoder> make_big_bird_encoder(const ModelConfig& config, const NamedTensors* params) {
  return std::make_unique<BigBirdEncoder>(config, params);
}

namespace big_bird {

void add_qa_head(layers::Shapes& shapes, const ModelConfig& config) {
  layers::add_feed_forward(shapes, "qa_classifier.", config);
  layers::add_linear(shapes, "qa_classifier.qa_outputs", config.hidden_size, 2);
}

at::Tensor question_mask(const at::Tensor& input_ids, int64_t sep_token_id) {
  const auto n = input_ids.size(1);
  // argmax of the first maximum: the first [SEP], or 0 when there is none.
  const auto q_len = at::argmax(input_ids.eq(sep_token_id).to(at::kInt), 1, /*keepdim=*/true) + 1;  // (B,1)
  const auto positions = at::arange(n, input_ids.options()).unsqueeze(0);
  return positions.lt(q_len).logical_and(positions.gt(0));
}

EncoderInput with_question_types(const EncoderInput& input, int64_t sep_token_id) {
  if (input.token_type_ids.defined()) return input;
  EncoderInput out = input;
  const auto n = input.input_ids.size(1);
  const auto q_len = at::argmax(input.input_ids.eq(sep_token_id).to(at::kInt), 1, true) + 1;
  out.token_type_ids = at::arange(n, input.input_ids.options()).unsqueeze(0).ge(q_len).to(at::kLong);
  return out;
}

at::Tensor qa_logits(const NamedTensors& params, const ModelConfig& config, const at::Tensor& hidden,
                     const EncoderInput& input) {
  // BigBirdForQuestionAnsweringHead: intermediate, output (dense + LayerNorm with the residual), qa_outputs.
  auto h = layers::feed_forward(params, "qa_classifier.", hidden, config);
  auto logits = layers::linear(params, "qa_classifier.qa_outputs", h);
  const auto mask = question_mask(input.input_ids, config.sep_token_id).to(logits.scalar_type()).unsqueeze(-1);
  return logits - mask * 1e6;
}

}  // namespace big_bird
}  // namespace longqa
