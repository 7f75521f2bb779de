// Model configuration from a Hugging Face style config.json.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "longqa/common/errors.h"

namespace longqa {

struct ModelConfig {
  // "littlebird"; "bert", "electra" (bert encoder); "roberta", "xlm-roberta" (roberta encoder);
  // "big_bird", "longformer", "modernbert" (their own encoders); nothing else.
  std::string model_type = "littlebird";
  int64_t vocab_size = 30522;
  int64_t hidden_size = 384;
  int64_t num_hidden_layers = 6;
  int64_t num_attention_heads = 6;
  int64_t intermediate_size = 1536;
  int64_t type_vocab_size = 2;
  int64_t max_position_embeddings = 512;  // bert: absolute positions; littlebird "cyclic": rows of its table
  int64_t embedding_size = -1;            // electra: < hidden_size adds embeddings_project; -1 = hidden_size
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";        // gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu
  double initializer_range = 0.02;
  int64_t pad_token_id = 0;               // roberta/xlm-roberta: also the position padding_idx (default 1)
  int64_t sep_token_id = -1;              // big_bird: the QA head masks the question up to the first one (default 66)
  // BigBird ("big_bird"): block_size (below) is its attention block.
  std::string attention_type = "block_sparse";  // big_bird: "block_sparse" or "original_full"
  int64_t num_random_blocks = 3;                 // big_bird: random key blocks per query block
  bool rescale_embeddings = false;               // big_bird: word embeddings times sqrt(hidden_size)
  bool use_bias = true;                          // big_bird: query/key/value biases (false is refused)
  // Longformer: the sliding window of each layer (even; one value serves every layer). Global attention
  // goes to the tokens before the first sep_token_id (default 2).
  std::vector<int64_t> attention_window = {512};
  // ModernBERT: per layer "full_attention" or "sliding_attention" (empty: full every
  // global_attn_every_n_layers-th layer from layer 0); RoPE bases; the local window (|i-j| <= local_attention/2);
  // biases; the QA head's activation. hidden_act and layer_norm_eps hold its hidden_activation and norm_eps.
  std::vector<std::string> layer_types;
  int64_t global_attn_every_n_layers = 3;
  double global_rope_theta = 160000.0, local_rope_theta = 10000.0;
  int64_t local_attention = 128;
  bool norm_bias = false, attention_bias = false, mlp_bias = false, classifier_bias = false;
  std::string classifier_activation = "gelu";
  // LittleBird (and BigBird's block_size)
  int64_t block_size = 64;
  int64_t pack_size = 64;
  int64_t max_seq_length = 8192;  // longest sequence one window holds (littlebird); bert uses max_position_embeddings
  // LittleBird: "none" (BiALiBi only) or "cyclic": token i also adds row i mod max_position_embeddings of
  // embeddings.position_embeddings, so a converted BERT keeps its position table and still reads any length
  // (a table of block_size rows makes the position within the attention block).
  std::string position_embedding_type = "none";
  // LittleBird: BiALiBi distances are capped here (0: no cap). Set to the longest window the model
  // was trained on, a longer window gives every token the bias it learned (attention.h, BiAlibi).
  int64_t bialibi_max_distance = 0;
  bool has_cyclic_positions() const { return is_littlebird() && position_embedding_type == "cyclic"; }
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  bool is_littlebird() const { return model_type == "littlebird"; }
  int64_t attention_window_of(int64_t layer) const;  // longformer
  bool is_global_layer(int64_t layer) const;         // modernbert: full attention in this layer
  // The prefix of encoder parameter names (the HF base-model attribute): "bert" (bert, big_bird), "electra",
  // "roberta" (roberta, xlm-roberta), "longformer", "model" (modernbert), "littlebird".
  std::string weight_prefix() const;
  // Longest token sequence the encoder accepts in one window (roberta, longformer: max_position_embeddings -
  // pad_token_id - 1).
  int64_t max_window_tokens() const;

  // Parse and validate(); unknown extra keys are ignored, null values keep the default.
  // Errors (longqa::FileFormatError) name the file (`origin`) and the key.
  static ModelConfig from_json_file(const std::string& path);  // unknown model_type -> clear error
  static ModelConfig from_json_string(const std::string& text, const std::string& origin = "config.json");
  // Hugging Face compatible JSON with "architectures"; every field is written, so reading it back gives an equal config.
  std::string to_json_string() const;
  void save(const std::string& path) const;  // atomic (write_file_atomic); errors: std::runtime_error
  void validate() const;  // throws std::invalid_argument on inconsistent sizes (hidden % heads, ...)
  bool operator==(const ModelConfig& other) const;
  bool operator!=(const ModelConfig& other) const { return !(*this == other); }
};

}  // namespace longqa
