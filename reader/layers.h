// Shared layer builders for the encoders (BERT-style naming, post-LN blocks).
// Private to reader/.
#pragma once
#include <torch/torch.h>

#include <string>

#include "longqa/qa_model.h"

namespace longqa::layers {

// Parameter lookup that names the missing tensor.
const at::Tensor& get(const NamedTensors& params, const std::string& name);

// y = x W^T + b for the Linear called `prefix` (prefix.weight, prefix.bias).
at::Tensor linear(const NamedTensors& params, const std::string& prefix, const at::Tensor& x);
at::Tensor layer_norm(const NamedTensors& params, const std::string& prefix, const at::Tensor& x, double eps);
at::Tensor activation(const at::Tensor& x, const std::string& hidden_act);

// (B,n,d) -> (B,H,n,dh) and back.
at::Tensor split_heads(const at::Tensor& x, int64_t heads);
at::Tensor merge_heads(const at::Tensor& x);

// The attention block's output: LayerNorm(attention.output.dense(context) + x).
at::Tensor attention_output(const NamedTensors& params, const std::string& layer, const at::Tensor& context,
                            const at::Tensor& x, const ModelConfig& config);

// BERT's feed-forward block on `layer` (a prefix ending in '.'):
// LayerNorm(output.dense(act(intermediate.dense(a))) + a).
at::Tensor feed_forward(const NamedTensors& params, const std::string& layer, const at::Tensor& a,
                        const ModelConfig& config);

// What follows the attention in every post-LN layer: feed_forward(attention_output(context, x)).
// Position-wise, so without gradients it runs over chunks of tokens: each chunk's
// intermediates (the FFN's 4x wider ones above all) stay in cache and in reused memory, which
// keeps time per token flat from 4k to 64k tokens instead of falling out of the L3 cache.
at::Tensor post_attention(const NamedTensors& params, const std::string& layer, const at::Tensor& context,
                          const at::Tensor& x, const ModelConfig& config);

// Word + token-type embeddings (+ positions when the model has them), LayerNorm.
at::Tensor embeddings(const NamedTensors& params, const std::string& prefix, const EncoderInput& input,
                      const ModelConfig& config, bool absolute_positions);

// Word (times word_scale) + token-type embeddings + the position embeddings of `positions` ((B,n) or (n) int64;
// undefined: none), then LayerNorm.
at::Tensor embeddings(const NamedTensors& params, const std::string& prefix, const EncoderInput& input,
                      const ModelConfig& config, const at::Tensor& positions, double word_scale = 1.0);

// RoBERTa's position ids (HF create_position_ids_from_input_ids): padding_idx + 1, + 2, ... over the tokens
// that are not padding_idx, padding_idx on those that are. (B,n) int64.
at::Tensor padding_aware_positions(const at::Tensor& input_ids, int64_t padding_idx);
// RoBERTa's embeddings (RoBERTa, XLM-R, Longformer): checks the window (max_window_tokens) and embeds with
// padding_aware_positions.
at::Tensor roberta_embeddings(const NamedTensors& params, const std::string& prefix, const EncoderInput& input,
                              const ModelConfig& config);

// One post-LN BERT layer (`layer` ends in '.') with full attention over the keys that `key_mask` (B,1,1,n)
// marks true: attention.self.{query,key,value}, attention output, feed-forward.
at::Tensor dense_layer(const NamedTensors& params, const std::string& layer, const at::Tensor& x,
                       const at::Tensor& key_mask, const ModelConfig& config);

// Mean of the hidden states (B,n,d) over the valid tokens: (B,d).
at::Tensor mean_pool(const at::Tensor& hidden, const at::Tensor& valid);

// [CLS] tokens [SEP] for each sequence (truncated to max_tokens in all), padded: segment 0.
EncoderInput single_segment_batch(const std::vector<const std::vector<int32_t>*>& sequences, int64_t max_tokens,
                                  int32_t cls_id, int32_t sep_id, int32_t pad_id);

// (name, shape) lists shared by both encoders.
using Shapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;
void add_linear(Shapes& shapes, const std::string& prefix, int64_t in, int64_t out);
void add_layer_norm(Shapes& shapes, const std::string& prefix, int64_t d);
void add_feed_forward(Shapes& shapes, const std::string& layer, const ModelConfig& config);
// Everything dense_layer reads.
void add_dense_layer(Shapes& shapes, const std::string& layer, const ModelConfig& config);
// prefix.{word,position,token_type}_embeddings and prefix.LayerNorm of width `width`.
void add_embeddings(Shapes& shapes, const std::string& prefix, const ModelConfig& config, int64_t width);
// A BERT-shaped encoder at `prefix`: prefix.embeddings (hidden wide) and num_hidden_layers
// dense layers prefix.encoder.layer.N. (RoBERTa, BigBird).
void add_dense_encoder(Shapes& shapes, const std::string& prefix, const ModelConfig& config);

}  // namespace longqa::layers
