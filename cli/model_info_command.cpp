// longqa model info: what a model directory holds — family, window, tokenizer, parameters,
// stored dtypes — read from its files without building the model.
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "longqa/model_config.h"
#include "longqa/safetensors.h"
#include "longqa/tokenizer.h"

namespace fs = std::filesystem;

namespace longqa::cli {

int model_info_command(const Argv& argv) {
  Args args("model info", "Describes a model directory: model_type, size, the window it reads, its tokenizer "
                          "(file and model), the number of parameters and the dtypes they are stored in.");
  args.option("model", "the model directory").flag("json", "print JSON");
  if (!args.parse(argv)) return 0;
  const std::string dir = args.get("model");
  const ModelConfig config = ModelConfig::from_json_file((fs::path(dir) / "config.json").string());
  const Tokenizer tokenizer = Tokenizer::from_directory(dir);
  const Checkpoint checkpoint(dir);
  int64_t parameters = 0;
  std::map<std::string, int64_t> by_dtype;  // parameters stored in each dtype
  for (const auto& name : checkpoint.names()) {
    int64_t n = 1;
    for (int64_t d : checkpoint.info(name).shape) n *= d;
    parameters += n;
    by_dtype[checkpoint.info(name).dtype] += n;
  }
  const bool tokenizer_json = fs::exists(fs::path(dir) / "tokenizer.json");
  nlohmann::json out = {{"model", dir},
                        {"model_type", config.model_type},
                        {"layers", config.num_hidden_layers},
                        {"hidden_size", config.hidden_size},
                        {"attention_heads", config.num_attention_heads},
                        {"intermediate_size", config.intermediate_size},
                        {"window_tokens", config.max_window_tokens()},
                        {"tokenizer", {{"file", tokenizer_json ? "tokenizer.json" : "vocab.txt"},
                                       {"model", tokenizer.model_type()},
                                       {"vocab_size", tokenizer.vocab_size()}}},
                        {"parameters", parameters},
                        {"tensors", checkpoint.names().size()},
                        {"stored_dtypes", by_dtype}};
  if (config.model_type == "littlebird")
    out["littlebird"] = {{"block_size", config.block_size}, {"pack_size", config.pack_size}};
  if (args.is_set("json")) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << dir << ": " << config.model_type << ", " << config.num_hidden_layers << " layers, hidden "
            << config.hidden_size << ", " << config.num_attention_heads << " heads, FFN " << config.intermediate_size
            << "\n  window: " << config.max_window_tokens() << " tokens";
  if (config.model_type == "littlebird")
    std::cout << " (block " << config.block_size << ", pack " << config.pack_size << ")";
  std::cout << "\n  tokenizer: " << out["tokenizer"]["file"].get<std::string>() << " (" << tokenizer.model_type()
            << ", " << tokenizer.vocab_size() << " entries)\n  parameters: " << parameters << " in "
            << checkpoint.names().size() << " tensors, stored as";
  for (const auto& [dtype, n] : by_dtype) std::cout << " " << dtype << " (" << n << ")";
  std::cout << "\n";
  return 0;
}

}  // namespace longqa::cli
