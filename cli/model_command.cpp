#include <filesystem>
#include <iostream>

#include "args.h"
#include "commands.h"
#include "longqa/model_config.h"
#include "longqa/qa_model.h"
#include "longqa/tokenizer.h"
#include "longqa/training/convert.h"
#include "longqa/training/reader_trainer.h"

namespace fs = std::filesystem;

namespace longqa::cli {

int model_init_command(const Argv& argv) {
  Args args("model init", "Writes a randomly initialised question-answering model directory "
                          "(config.json, model.safetensors and the tokenizer files).");
  args.option("config", "a Hugging Face style config.json (model_type littlebird, bert or electra)")
      .option("vocab", "vocab.txt (tokenizer_config.json beside it is copied too) or tokenizer.json")
      .option("out", "the model directory to write")
      .option("seed", "random seed", "0");
  if (!args.parse(argv)) return 0;
  const fs::path vocab = args.get("vocab"), out = args.get("out");
  ModelConfig config = ModelConfig::from_json_file(args.get("config"));
  const bool is_json = vocab.extension() == ".json";
  const Tokenizer tokenizer =
      is_json ? Tokenizer::from_tokenizer_json(vocab.string()) : Tokenizer::from_vocab_file(vocab.string());
  if (config.vocab_size != tokenizer.vocab_size()) {
    std::cerr << "note: vocab_size " << config.vocab_size << " in the config set to the vocabulary's "
              << tokenizer.vocab_size() << "\n";
    config.vocab_size = tokenizer.vocab_size();
  }
  QaModel model = QaModel::random(config, static_cast<uint64_t>(args.get_int("seed")));
  model.save(out.string());
  if (is_json) {
    fs::copy_file(vocab, out / "tokenizer.json", fs::copy_options::overwrite_existing);
  } else {
    fs::copy_file(vocab, out / "vocab.txt", fs::copy_options::overwrite_existing);
    const fs::path tokenizer_config = vocab.parent_path() / "tokenizer_config.json";
    if (fs::exists(tokenizer_config))
      fs::copy_file(tokenizer_config, out / "tokenizer_config.json", fs::copy_options::overwrite_existing);
  }
  std::cout << "wrote " << out.string() << " (" << config.model_type << ", " << config.num_hidden_layers
            << " layers, hidden " << config.hidden_size << ")\n";
  return 0;
}

int model_convert_command(const Argv& argv) {
  Args args("model convert", "Starts a LittleBird reader from a checkpoint with BERT-shaped layers (bert, electra, "
                             "roberta, xlm-roberta, big_bird, longformer): embeddings and layer weights copied, each "
                             "layer's pack attention initialised from its attention (Longformer: its global "
                             "projections), BiALiBi and the pack sequence initialised, the absolute position table "
                             "kept and reused cyclically (--positions). Fine-tune the result with train-reader.");
  args.option("from", "the checkpoint directory (BertModel, RobertaForQuestionAnswering, BigBirdModel, ...)", "")
      .option("from-bert", "the same as --from (its older name)", "")
      .option("out", "the LittleBird model directory to write")
      .option("block-size", "sliding-window block size", "64")
      .option("pack-size", "packed sequence length", "64")
      .option("max-seq-length", "longest window the reader will read", "8192")
      .option("positions",
              "the source's absolute positions: cyclic (its table reused every max_position_embeddings tokens; "
              "keeps most of what it knows, any length), block (its first block-size rows: the position within "
              "each attention block) or none (dropped; BiALiBi alone)",
              "cyclic")
      .option("bialibi-max-distance",
              "cap on BiALiBi's distances (0: none): set it to the longest window you will train on, so that "
              "longer documents give every token the bias to the question it was trained with",
              "2048")
      .option("seed", "random seed for the initialised parameters", "0");
  if (!args.parse(argv)) return 0;
  ConvertOptions options;
  options.positions = args.get("positions");
  options.block_size = args.get_int("block-size");
  options.pack_size = args.get_int("pack-size");
  options.max_seq_length = args.get_int("max-seq-length");
  options.bialibi_max_distance = args.get_int("bialibi-max-distance");
  options.seed = static_cast<uint64_t>(args.get_int("seed"));
  const std::string from = !args.get("from").empty() ? args.get("from") : args.get("from-bert");
  if (from.empty()) throw std::invalid_argument("model convert: --from is required (the checkpoint directory; see --help)");
  const QaModel model = littlebird_from_checkpoint(from, options);
  model.save(args.get("out"));
  copy_tokenizer_files(from, args.get("out"));
  std::cout << "wrote " << args.get("out") << " (littlebird, " << model.config().num_hidden_layers << " layers, hidden "
            << model.config().hidden_size << ", block " << options.block_size << ", pack " << options.pack_size
            << ", positions " << options.positions << ", BiALiBi distances capped at "
            << options.bialibi_max_distance << ")\n";
  return 0;
}

int model_export_command(const Argv& argv) {
  Args args("model export", "Writes a copy of a model directory with its weights stored in another precision "
                            "(float16 halves the size; weights load as float32 again, so answers change only by "
                            "the rounding of the weights).");
  args.option("model", "the model directory to copy")
      .option("out", "the model directory to write")
      .option("dtype", "float32, float16 or bfloat16", "float16");
  if (!args.parse(argv)) return 0;
  const std::string dtype = args.get("dtype");
  const at::ScalarType storage = dtype == "float16"    ? at::kHalf
                                 : dtype == "bfloat16" ? at::kBFloat16
                                 : dtype == "float32"  ? at::kFloat
                                                       : throw std::invalid_argument("--dtype must be float32, float16 or bfloat16, not '" + dtype + "'");
  if (fs::weakly_canonical(args.get("model")) == fs::weakly_canonical(args.get("out")))
    throw std::invalid_argument("model export: --out must differ from --model");
  const QaModel model = QaModel::load(args.get("model"));
  model.save(args.get("out"), storage);
  copy_tokenizer_files(args.get("model"), args.get("out"));
  std::cout << "wrote " << args.get("out") << " (" << dtype << ", "
            << fs::file_size(fs::path(args.get("out")) / "model.safetensors") / 1000000.0 << " MB)\n";
  return 0;
}

}  // namespace longqa::cli
