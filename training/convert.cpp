#include "longqa/training/convert.h"

#include <filesystem>
#include <stdexcept>

#include "longqa/safetensors.h"

namespace fs = std::filesystem;

namespace longqa {
namespace {

// The families whose layers are BERT's (post-LN attention + GELU feed-forward under the same names).
bool bert_shaped(const std::string& type) {
  for (const char* t : {"bert", "electra", "roberta", "xlm-roberta", "big_bird", "longformer"})
    if (type == t) return true;
  return false;
}

}  // namespace

QaModel littlebird_from_checkpoint(const std::string& source_dir, const ConvertOptions& options) {
  const ModelConfig source = ModelConfig::from_json_file((fs::path(source_dir) / "config.json").string());
  if (source.model_type == "modernbert")
    throw std::invalid_argument(source_dir + ": a modernbert model cannot become a LittleBird reader (its layers are "
                                             "pre-norm with GeGLU and RoPE, LittleBird's are BERT's); it reads long "
                                             "documents as it is (local attention, 8192 positions)");
  if (!bert_shaped(source.model_type))
    throw std::invalid_argument(source_dir + ": model_type '" + source.model_type +
                                "' cannot be converted (supported: bert, electra, roberta, xlm-roberta, big_bird, "
                                "longformer)");
  if (source.embedding_size > 0 && source.embedding_size != source.hidden_size)
    throw std::invalid_argument(source_dir + ": embedding_size " + std::to_string(source.embedding_size) +
                                " differs from hidden_size; such ELECTRA models cannot be converted");
  if (source.rescale_embeddings)
    throw std::invalid_argument(source_dir + ": rescale_embeddings true (word embeddings times sqrt(hidden)) has no "
                                             "LittleBird equivalent");
  Checkpoint checkpoint(source_dir);
  // Encoder names appear with the model prefix (…ForQuestionAnswering) or without it (BertModel).
  const std::string prefix = source.weight_prefix() + ".";
  const bool prefixed = checkpoint.contains(prefix + "embeddings.word_embeddings.weight");
  auto source_tensor = [&](const std::string& name) {
    const std::string full = prefixed ? prefix + name : name;
    if (!checkpoint.contains(full)) throw std::runtime_error(source_dir + ": checkpoint has no tensor '" + full + "'");
    return checkpoint.get(full).to(at::kFloat);
  };

  ModelConfig config = source;
  config.model_type = "littlebird";
  config.embedding_size = -1;
  config.block_size = options.block_size;
  config.pack_size = options.pack_size;
  config.max_seq_length = options.max_seq_length;
  config.bialibi_max_distance = options.bialibi_max_distance;
  // RoBERTa-family tables start at padding_idx + 1 (create_position_ids_from_input_ids).
  const int64_t first_position = source.max_window_tokens() < source.max_position_embeddings
                                     ? source.max_position_embeddings - source.max_window_tokens()
                                     : 0;
  if (options.positions == "cyclic") {
    config.position_embedding_type = "cyclic";
    config.max_position_embeddings = source.max_window_tokens();
  } else if (options.positions == "block") {
    if (options.block_size > source.max_window_tokens())
      throw std::invalid_argument(source_dir + ": block_size " + std::to_string(options.block_size) +
                                  " exceeds the source's " + std::to_string(source.max_window_tokens()) + " positions");
    config.position_embedding_type = "cyclic";
    config.max_position_embeddings = options.block_size;
  } else if (options.positions == "none") {
    config.position_embedding_type = "none";
  } else {
    throw std::invalid_argument("positions '" + options.positions + "': expected cyclic, block or none");
  }
  QaModel model = QaModel::random(config, options.seed);
  auto& params = model.parameters();
  const std::string lb = config.weight_prefix() + ".";
  const bool longformer = source.model_type == "longformer";
  for (auto& [name, tensor] : params) {
    if (name.rfind(lb, 0) != 0) continue;  // qa_outputs: below
    std::string rest = name.substr(lb.size());
    if (rest == "encoder.pack_sequence" || rest.find("bialibi_") != std::string::npos) continue;
    if (auto at = rest.find("pack_attention."); at != std::string::npos) {
      rest.replace(at, 15, "attention.");
      // Longformer's global projections already attend over the whole sequence, as pack attention does.
      // (attention.self.query.weight -> attention.self.query_global.weight)
      if (longformer && rest.find("attention.self.") != std::string::npos) rest.insert(rest.rfind('.'), "_global");
    }
    auto copied = source_tensor(rest);
    if (rest == "embeddings.position_embeddings.weight")
      copied = copied.narrow(0, first_position, config.max_position_embeddings);
    if (copied.sizes() != tensor.sizes())
      throw std::runtime_error(source_dir + ": tensor '" + rest + "' has an unexpected shape");
    tensor = copied.clone();
  }
  // qa_outputs carries over; BigBird's qa_classifier (a three-layer head) and ModernBERT's do not.
  if (checkpoint.contains("qa_outputs.weight")) {
    params["qa_outputs.weight"] = checkpoint.get("qa_outputs.weight").to(at::kFloat).clone();
    params["qa_outputs.bias"] = checkpoint.get("qa_outputs.bias").to(at::kFloat).clone();
  }
  return model;
}

}  // namespace longqa
