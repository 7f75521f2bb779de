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

constexpr const char* kModelTypes[] = {"littlebird", "bert", "electra", "roberta", "xlm-roberta", "big_bird"};
constexpr const char* kModelTypeList = "littlebird, bert, electra, roberta, xlm-roberta, big_bird";
constexpr const char* kAttentionTypes[] = {"block_sparse", "original_full"};  // big_bird
constexpr const char* kActivations[] = {"gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu"};
constexpr const char* kActivationList = "gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu";

// RoBERTa and XLM-RoBERTa share one encoder and one config layout.
bool is_roberta(const std::string& type) { return type == "roberta" || type == "xlm-roberta"; }

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
  if (is_roberta(c.model_type) && c.max_position_embeddings <= c.pad_token_id + 1)
    fail(where, "max_position_embeddings " + std::to_string(c.max_position_embeddings) +
                    " leaves no positions after padding_idx (pad_token_id " + std::to_string(c.pad_token_id) + ")");
  if (c.model_type == "big_bird") {
    if (!one_of(c.attention_type, kAttentionTypes))
      fail(where, "unsupported attention_type '" + c.attention_type + "' (supported: block_sparse, original_full)");
    if (c.num_random_blocks < 0)
      fail(where, "num_random_blocks must not be negative, not " + std::to_string(c.num_random_blocks));
    if (!c.use_bias) fail(where, "use_bias false is not supported (query/key/value without biases)");
  }
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
  return model_type;
}

int64_t ModelConfig::max_window_tokens() const {
  if (is_littlebird()) return max_seq_length;
  // RoBERTa's positions start at padding_idx + 1.
  if (is_roberta(model_type)) return max_position_embeddings - pad_token_id - 1;
  return max_position_embeddings;
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
  } catch (const json::parse_error& e) {
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
  read(j, "block_size", c.block_size, origin);
  read(j, "pack_size", c.pack_size, origin);
  read(j, "max_seq_length", c.max_seq_length, origin);
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
  if (model_type == "big_bird") {
    j["attention_type"] = attention_type;
    j["num_random_blocks"] = num_random_blocks;
    j["rescale_embeddings"] = rescale_embeddings;
    j["use_bias"] = use_bias;
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
                    c.rescale_embeddings, c.use_bias);
  };
  return fields(*this) == fields(o);
}

}  // namespace longqa
