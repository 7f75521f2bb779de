// ModelConfig from and to Hugging Face style config.json; see model_config.h.
#include "longqa/model_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "longqa/common/atomic_file.h"
#include "longqa/common/errors.h"

namespace longqa {
namespace {

using json = nlohmann::json;

constexpr const char* kModelTypes[] = {"littlebird", "bert",     "electra",    "roberta",
                                       "xlm-roberta", "big_bird", "longformer", "modernbert"};
constexpr const char* kModelTypeList = "littlebird, bert, electra, roberta, xlm-roberta, big_bird, longformer, modernbert";
constexpr const char* kLayerTypes[] = {"full_attention", "sliding_attention"};  // modernbert
constexpr const char* kPositionTypes[] = {"none", "cyclic"};                       // littlebird
constexpr const char* kAttentionTypes[] = {"block_sparse", "original_full"};  // big_bird
constexpr const char* kActivations[] = {"gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu"};
constexpr const char* kActivationList = "gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu";

// RoBERTa and XLM-RoBERTa share one encoder and one config layout.
bool is_roberta(const std::string& type) { return type == "roberta" || type == "xlm-roberta"; }
// Families whose positions start at padding_idx + 1 (RoBERTa's embeddings).
bool has_roberta_positions(const std::string& type) { return is_roberta(type) || type == "longformer"; }

// Where a config comes from: a file (its errors are FileFormatError) or code (std::invalid_argument).
struct Origin {
  const std::string& name;
  bool is_file;
};
const std::string kInCode = "model config";

[[noreturn]] void fail(const Origin& where, const std::string& what) {
  if (where.is_file) throw FileFormatError(where.name, what);
  throw std::invalid_argument(where.name + ": " + what);
}

[[noreturn]] void fail(const std::string& file, const std::string& what) { fail(Origin{file, true}, what); }

template <size_t N>
bool one_of(const std::string& value, const char* const (&choices)[N]) {
  for (const char* c : choices)
    if (value == c) return true;
  return false;
}

// Hugging Face writes null for unset optional keys: treat it like an absent key.
const json* find_key(const json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::string wrong_type(const char* key, const char* expected, const json& value) {
  return std::string("key '") + key + "' must be " + expected + ", not " + value.type_name() + " " +
         value.dump();
}

void read(const json& j, const char* key, int64_t& out, const std::string& origin) {
  const json* v = find_key(j, key);
  if (!v) return;
  if (!v->is_number_integer()) fail(origin, wrong_type(key, "an integer", *v));
  if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX))
    fail(origin, std::string("key '") + key + "' is out of range: " + v->dump());
  out = v->get<int64_t>();
}

void read(const json& j, const char* key, double& out, const std::string& origin) {
  const json* v = find_key(j, key);
  if (!v) return;
  if (!v->is_number()) fail(origin, wrong_type(key, "a number", *v));
  out = v->get<double>();
}

void read(const json& j, const char* key, std::string& out, const std::string& origin) {
  const json* v = find_key(j, key);
  if (!v) return;
  if (!v->is_string()) fail(origin, wrong_type(key, "a string", *v));
  out = v->get<std::string>();
}

void read(const json& j, const char* key, bool& out, const std::string& origin) {
  const json* v = find_key(j, key);
  if (!v) return;
  if (!v->is_boolean()) fail(origin, wrong_type(key, "true or false", *v));
  out = v->get<bool>();
}

// An integer or a list of integers (Longformer's attention_window).
void read(const json& j, const char* key, std::vector<int64_t>& out, const std::string& origin) {
  const json* v = find_key(j, key);
  if (!v) return;
  if (v->is_number_integer()) {
    out = {v->get<int64_t>()};
    return;
  }
  if (!v->is_array()) fail(origin, wrong_type(key, "an integer or a list of integers", *v));
  out.clear();
  for (const json& item : *v) {
    if (!item.is_number_integer()) fail(origin, wrong_type(key, "a list of integers", *v));
    out.push_back(item.get<int64_t>());
  }
}

void read(const json& j, const char* key, std::vector<std::string>& out, const std::string& origin) {
  const json* v = find_key(j, key);
  if (!v) return;
  if (!v->is_array()) fail(origin, wrong_type(key, "a list of strings", *v));
  out.clear();
  for (const json& item : *v) {
    if (!item.is_string()) fail(origin, wrong_type(key, "a list of strings", *v));
    out.push_back(item.get<std::string>());
  }
}

// ModernBERT's rope_parameters (transformers 5): {"full_attention": {"rope_type": "default", "rope_theta": ..},
// "sliding_attention": {..}}; the older global_rope_theta / local_rope_theta keys too.
void read_rope(const json& j, ModelConfig& c, const std::string& origin) {
  read(j, "global_rope_theta", c.global_rope_theta, origin);
  read(j, "local_rope_theta", c.local_rope_theta, origin);
  const json* rope = find_key(j, "rope_parameters");
  if (!rope) return;
  if (!rope->is_object()) fail(origin, wrong_type("rope_parameters", "an object", *rope));
  for (auto [kind, theta] : {std::pair{"full_attention", &c.global_rope_theta},
                             std::pair{"sliding_attention", &c.local_rope_theta}}) {
    const json* p = find_key(*rope, kind);
    if (!p) continue;
    if (!p->is_object()) fail(origin, std::string("rope_parameters.") + kind + " must be an object");
    std::string type = "default";
    read(*p, "rope_type", type, origin);
    if (type != "default")
      fail(origin, std::string("rope_parameters.") + kind + ".rope_type '" + type + "' is not supported (only default)");
    read(*p, "rope_theta", *theta, origin);
  }
}

void check_model_type(const std::string& type, const Origin& where) {
  if (!one_of(type, kModelTypes))
    fail(where, "unsupported model_type '" + type + "' (supported: " + kModelTypeList + ")");
}

void check(const ModelConfig& c, const Origin& where) {
  check_model_type(c.model_type, where);
  const std::pair<const char*, int64_t> positive[] = {
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"intermediate_size", c.intermediate_size},
      {"type_vocab_size", c.type_vocab_size},
      {"max_position_embeddings", c.max_position_embeddings},
      {"block_size", c.block_size},
      {"pack_size", c.pack_size},
      {"max_seq_length", c.max_seq_length},
  };
  for (const auto& [key, value] : positive)
    if (value <= 0) fail(where, std::string(key) + " must be positive, not " + std::to_string(value));
  if (c.hidden_size % c.num_attention_heads != 0)
    fail(where, "hidden_size " + std::to_string(c.hidden_size) + " is not a multiple of num_attention_heads " +
                    std::to_string(c.num_attention_heads));
  if (c.embedding_size != -1 && c.embedding_size <= 0)
    fail(where, "embedding_size must be positive (or -1 for hidden_size), not " + std::to_string(c.embedding_size));
  if (!(c.layer_norm_eps > 0)) fail(where, "layer_norm_eps must be positive");
  if (c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size)
    fail(where, "pad_token_id " + std::to_string(c.pad_token_id) + " is outside the vocabulary of " +
                    std::to_string(c.vocab_size));
  if (has_roberta_positions(c.model_type) && c.max_position_embeddings <= c.pad_token_id + 1)
    fail(where, "max_position_embeddings " + std::to_string(c.max_position_embeddings) +
                    " leaves no positions after padding_idx (pad_token_id " + std::to_string(c.pad_token_id) + ")");
  if (c.model_type == "big_bird") {
    if (!one_of(c.attention_type, kAttentionTypes))
      fail(where, "unsupported attention_type '" + c.attention_type + "' (supported: block_sparse, original_full)");
    if (c.num_random_blocks < 0)
      fail(where, "num_random_blocks must not be negative, not " + std::to_string(c.num_random_blocks));
    if (!c.use_bias) fail(where, "use_bias false is not supported (query/key/value without biases)");
  }
  if (c.model_type == "longformer") {
    if (c.attention_window.size() != 1 && static_cast<int64_t>(c.attention_window.size()) != c.num_hidden_layers)
      fail(where, "attention_window has " + std::to_string(c.attention_window.size()) + " values for " +
                      std::to_string(c.num_hidden_layers) + " layers (give one, or one per layer)");
    for (int64_t w : c.attention_window)
      if (w < 2 || w % 2 != 0) fail(where, "attention_window " + std::to_string(w) + " must be even and positive");
    if (c.sep_token_id < 0 || c.sep_token_id >= c.vocab_size)
      fail(where, "sep_token_id " + std::to_string(c.sep_token_id) + " is outside the vocabulary (the question ends there)");
  }
  if (c.model_type == "modernbert") {
    if (!c.layer_types.empty() && static_cast<int64_t>(c.layer_types.size()) != c.num_hidden_layers)
      fail(where, "layer_types has " + std::to_string(c.layer_types.size()) + " entries for " +
                      std::to_string(c.num_hidden_layers) + " layers");
    for (const auto& t : c.layer_types)
      if (!one_of(t, kLayerTypes))
        fail(where, "unsupported layer_types entry '" + t + "' (supported: full_attention, sliding_attention)");
    if (c.global_attn_every_n_layers < 1) fail(where, "global_attn_every_n_layers must be positive");
    if (c.local_attention < 2) fail(where, "local_attention must be at least 2");
    if (c.head_dim() % 2 != 0) fail(where, "RoPE needs an even head dimension, not " + std::to_string(c.head_dim()));
    if (!(c.global_rope_theta > 0) || !(c.local_rope_theta > 0)) fail(where, "rope_theta must be positive");
    if (!one_of(c.classifier_activation, kActivations))
      fail(where, "unsupported classifier_activation '" + c.classifier_activation + "' (supported: " +
                      kActivationList + ")");
  }
  if (c.bialibi_max_distance < 0)
    fail(where, "bialibi_max_distance must be >= 0 (0: no cap), not " + std::to_string(c.bialibi_max_distance));
  if (c.is_littlebird() && !one_of(c.position_embedding_type, kPositionTypes))
    fail(where, "unsupported position_embedding_type '" + c.position_embedding_type +
                    "' for littlebird (supported: none, cyclic)");
  if (!one_of(c.hidden_act, kActivations))
    fail(where, "unsupported hidden_act '" + c.hidden_act + "' (supported: " + kActivationList + ")");
}

}  // namespace

void ModelConfig::validate() const { check(*this, {kInCode, false}); }

std::string ModelConfig::weight_prefix() const {
  // The Hugging Face base-model attribute: bert., electra., littlebird. are the model type;
  // RobertaForQuestionAnswering and XLMRobertaForQuestionAnswering use roberta., BigBirdForQuestionAnswering bert.
  check_model_type(model_type, {kInCode, false});
  if (is_roberta(model_type)) return "roberta";
  if (model_type == "big_bird") return "bert";
  if (model_type == "modernbert") return "model";
  return model_type;
}

int64_t ModelConfig::max_window_tokens() const {
  if (is_littlebird()) return max_seq_length;
  // RoBERTa's positions start at padding_idx + 1.
  if (has_roberta_positions(model_type)) return max_position_embeddings - pad_token_id - 1;
  return max_position_embeddings;
}

int64_t ModelConfig::attention_window_of(int64_t layer) const {
  return attention_window.size() == 1 ? attention_window.front() : attention_window.at(static_cast<size_t>(layer));
}

bool ModelConfig::is_global_layer(int64_t layer) const {
  if (!layer_types.empty()) return layer_types.at(static_cast<size_t>(layer)) == "full_attention";
  return layer % global_attn_every_n_layers == 0;
}

ModelConfig ModelConfig::from_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(path, "read failed");
  return from_json_string(text.str(), path);
}

ModelConfig ModelConfig::from_json_string(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double
    fail(origin, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(origin, "not a JSON object");
  if (!find_key(j, "model_type")) fail(origin, std::string("missing key 'model_type' (supported: ") + kModelTypeList + ")");

  ModelConfig c;
  read(j, "model_type", c.model_type, origin);
  check_model_type(c.model_type, {origin, true});
  // Defaults of the Hugging Face config classes where they differ from BERT's (save_pretrained may omit them).
  if (is_roberta(c.model_type)) c.pad_token_id = 1;
  if (c.model_type == "big_bird") {
    c.hidden_act = "gelu_new";
    c.max_position_embeddings = 4096;
    c.sep_token_id = 66;
  }
  if (c.model_type == "longformer") c.pad_token_id = 1, c.sep_token_id = 2;
  if (c.model_type == "modernbert") {  // ModernBertConfig's defaults
    c.vocab_size = 50368, c.hidden_size = 768, c.intermediate_size = 1152, c.num_hidden_layers = 22;
    c.num_attention_heads = 12, c.max_position_embeddings = 8192, c.layer_norm_eps = 1e-5;
    c.pad_token_id = 50283, c.sep_token_id = 50282, c.type_vocab_size = 1;
  }
  read(j, "vocab_size", c.vocab_size, origin);
  read(j, "hidden_size", c.hidden_size, origin);
  read(j, "num_hidden_layers", c.num_hidden_layers, origin);
  read(j, "num_attention_heads", c.num_attention_heads, origin);
  read(j, "intermediate_size", c.intermediate_size, origin);
  read(j, "type_vocab_size", c.type_vocab_size, origin);
  read(j, "max_position_embeddings", c.max_position_embeddings, origin);
  read(j, "embedding_size", c.embedding_size, origin);
  read(j, "layer_norm_eps", c.layer_norm_eps, origin);
  read(j, "hidden_act", c.hidden_act, origin);
  read(j, "initializer_range", c.initializer_range, origin);
  read(j, "pad_token_id", c.pad_token_id, origin);
  read(j, "sep_token_id", c.sep_token_id, origin);
  if (c.model_type == "big_bird") {
    read(j, "attention_type", c.attention_type, origin);
    read(j, "num_random_blocks", c.num_random_blocks, origin);
    read(j, "rescale_embeddings", c.rescale_embeddings, origin);
    read(j, "use_bias", c.use_bias, origin);
  }
  if (c.model_type == "longformer") read(j, "attention_window", c.attention_window, origin);
  if (c.model_type == "modernbert") {
    c.type_vocab_size = 1;  // no token types
    read(j, "hidden_activation", c.hidden_act, origin);
    read(j, "norm_eps", c.layer_norm_eps, origin);
    read(j, "layer_types", c.layer_types, origin);
    read(j, "global_attn_every_n_layers", c.global_attn_every_n_layers, origin);
    read_rope(j, c, origin);
    read(j, "local_attention", c.local_attention, origin);
    read(j, "norm_bias", c.norm_bias, origin);
    read(j, "attention_bias", c.attention_bias, origin);
    read(j, "mlp_bias", c.mlp_bias, origin);
    read(j, "classifier_bias", c.classifier_bias, origin);
    read(j, "classifier_activation", c.classifier_activation, origin);
  }
  read(j, "block_size", c.block_size, origin);
  read(j, "pack_size", c.pack_size, origin);
  read(j, "max_seq_length", c.max_seq_length, origin);
  // BERT configs say "absolute" here; the key means something only to a LittleBird model.
  if (c.is_littlebird()) {
    read(j, "position_embedding_type", c.position_embedding_type, origin);
    read(j, "bialibi_max_distance", c.bialibi_max_distance, origin);
  }
  // ElectraConfig's embedding_size defaults to the hidden size.
  if (c.model_type == "electra" && c.embedding_size == -1) c.embedding_size = c.hidden_size;
  check(c, {origin, true});
  return c;
}

std::string ModelConfig::to_json_string() const {
  check_model_type(model_type, {kInCode, false});
  const char* architecture = model_type == "bert"          ? "BertForQuestionAnswering"
                             : model_type == "electra"     ? "ElectraForQuestionAnswering"
                             : model_type == "roberta"     ? "RobertaForQuestionAnswering"
                             : model_type == "xlm-roberta" ? "XLMRobertaForQuestionAnswering"
                             : model_type == "big_bird"    ? "BigBirdForQuestionAnswering"
                             : model_type == "longformer"  ? "LongformerForQuestionAnswering"
                             : model_type == "modernbert"  ? "ModernBertForQuestionAnswering"
                                                           : "LittleBirdForQuestionAnswering";
  json j = {
      {"architectures", json::array({architecture})},
      {"model_type", model_type},
      {"vocab_size", vocab_size},
      {"hidden_size", hidden_size},
      {"num_hidden_layers", num_hidden_layers},
      {"num_attention_heads", num_attention_heads},
      {"intermediate_size", intermediate_size},
      {"type_vocab_size", type_vocab_size},
      {"max_position_embeddings", max_position_embeddings},
      {"layer_norm_eps", layer_norm_eps},
      {"hidden_act", hidden_act},
      {"initializer_range", initializer_range},
      {"pad_token_id", pad_token_id},
      {"block_size", block_size},
      {"pack_size", pack_size},
      {"max_seq_length", max_seq_length},
  };
  // -1 means "hidden_size"; Hugging Face has no such value, so leave the key out.
  if (embedding_size != -1) j["embedding_size"] = embedding_size;
  if (sep_token_id != -1) j["sep_token_id"] = sep_token_id;
  if (is_littlebird()) {
    j["position_embedding_type"] = position_embedding_type;
    if (bialibi_max_distance != 0) j["bialibi_max_distance"] = bialibi_max_distance;
  }
  if (model_type == "big_bird") {
    j["attention_type"] = attention_type;
    j["num_random_blocks"] = num_random_blocks;
    j["rescale_embeddings"] = rescale_embeddings;
    j["use_bias"] = use_bias;
  }
  if (model_type == "longformer") j["attention_window"] = attention_window;
  if (model_type == "modernbert") {
    // ModernBertConfig's names for the activation and the norm epsilon.
    j.erase("hidden_act");
    j.erase("layer_norm_eps");
    j.erase("type_vocab_size");
    j["hidden_activation"] = hidden_act;
    j["norm_eps"] = layer_norm_eps;
    if (!layer_types.empty()) j["layer_types"] = layer_types;
    j["global_attn_every_n_layers"] = global_attn_every_n_layers;
    j["rope_parameters"] = {{"full_attention", {{"rope_type", "default"}, {"rope_theta", global_rope_theta}}},
                            {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", local_rope_theta}}}};
    j["local_attention"] = local_attention;
    j["norm_bias"] = norm_bias;
    j["attention_bias"] = attention_bias;
    j["mlp_bias"] = mlp_bias;
    j["classifier_bias"] = classifier_bias;
    j["classifier_activation"] = classifier_activation;
  }
  return j.dump(2) + "\n";
}

void ModelConfig::save(const std::string& path) const { write_file_atomic(path, to_json_string()); }

bool ModelConfig::operator==(const ModelConfig& o) const {
  auto fields = [](const ModelConfig& c) {
    return std::tie(c.model_type, c.vocab_size, c.hidden_size, c.num_hidden_layers, c.num_attention_heads,
                    c.intermediate_size, c.type_vocab_size, c.max_position_embeddings, c.embedding_size,
                    c.layer_norm_eps, c.hidden_act, c.initializer_range, c.pad_token_id, c.block_size,
                    c.pack_size, c.max_seq_length, c.sep_token_id, c.attention_type, c.num_random_blocks,
                    c.rescale_embeddings, c.use_bias, c.attention_window, c.layer_types,
                    c.global_attn_every_n_layers, c.global_rope_theta, c.local_rope_theta, c.local_attention,
                    c.norm_bias, c.attention_bias, c.mlp_bias, c.classifier_bias, c.classifier_activation, c.position_embedding_type,
                    c.bialibi_max_distance);
  };
  return fields(*this) == fields(o);
}

}  // namespace longqa
