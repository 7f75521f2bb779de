#include "longqa/training/convert.h"

#include <filesystem>
#include <stdexcept>

#include "longqa/safetensors.h"

namespace fs = std::filesystem;

namespace longqa {

QaModel littlebird_from_bert(const std::string& bert_dir, const ConvertOptions& options) {
  const ModelConfig source = ModelConfig::from_json_file((fs::path(bert_dir) / "config.json").string());
  if (source.model_type != "bert" && source.model_type != "electra")
    throw std::invalid_argument(bert_dir + ": model_type '" + source.model_type + "' is not BERT-family (bert, electra)");
  if (source.embedding_size > 0 && source.embedding_size != source.hidden_size)
    throw std::invalid_argument(bert_dir + ": embedding_size " + std::to_string(source.embedding_size) +
                                " differs from hidden_size; such ELECTRA models cannot be converted");
  Checkpoint checkpoint(bert_dir);
  // Encoder names appear with the model prefix (…ForQuestionAnswering) or without it (BertModel).
  const std::string prefix = source.weight_prefix() + ".";
  const bool prefixed = checkpoint.contains(prefix + "embeddings.word_embeddings.weight");
  auto source_tensor = [&](const std::string& name) {
    const std::string full = prefixed ? prefix + name : name;
    if (!checkpoint.contains(full)) throw std::runtime_error(bert_dir + ": checkpoint has no tensor '" + full + "'");
    return checkpoint.get(full).to(at::kFloat);
  };

  ModelConfig config = source;
  config.model_type = "littlebird";
  config.embedding_size = -1;
  config.block_size = options.block_size;
  config.pack_size = options.pack_size;
  config.max_seq_length = options.max_seq_length;
  QaModel model = QaModel::random(config, options.seed);
  auto& params = model.parameters();
  const std::string lb = config.weight_prefix() + ".";
  for (auto& [name, tensor] : params) {
    if (name.rfind(lb, 0) != 0) continue;  // qa_outputs: below
    std::string rest = name.substr(lb.size());
    if (rest == "encoder.pack_sequence" || rest.find("bialibi_") != std::string::npos) continue;
    if (auto at = rest.find("pack_attention."); at != std::string::npos) rest.replace(at, 15, "attention.");
    auto copied = source_tensor(rest);
    if (copied.sizes() != tensor.sizes())
      throw std::runtime_error(bert_dir + ": tensor '" + rest + "' has an unexpected shape");
    tensor = copied.clone();
  }
  if (checkpoint.contains("qa_outputs.weight")) {
    params["qa_outputs.weight"] = checkpoint.get("qa_outputs.weight").to(at::kFloat).clone();
    params["qa_outputs.bias"] = checkpoint.get("qa_outputs.bias").to(at::kFloat).clone();
  }
  return model;
}

}  // namespace longqa
