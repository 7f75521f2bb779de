// longqa: one binary, one subcommand per task. The work is done by the libraries;
// this file only dispatches and turns exceptions into messages and exit codes.
#include <exception>
#include <functional>
#include <iostream>
#include <map>

#include "commands.h"
#include "longqa/common/errors.h"

namespace {

// Exit codes, the same for every command (listed in kUsage).
constexpr int kExitError = 1;         // anything else that went wrong
constexpr int kExitUsage = 2;         // unknown command or option, bad option value
constexpr int kExitBadInputFile = 3;  // longqa::FileFormatError: a missing or malformed input file

const char* kUsage = R"(usage: longqa COMMAND [options]

commands:
  read             answer a question from one document (any length)
  tokenize         show the tokens, ids and character offsets of a text
  index build      build an index (docstore with BM25, FAISS vectors) from corpus files
  index add        add or replace documents in an index
  index delete     delete documents from an index
  index info       show an index's manifest and counts
  index repair     re-encode what an interrupted write left out of the dense index
  search           top documents and passages for a question (dense, BM25 or fused)
  ask              answer a question over an index: retrieve, read the top documents whole, rank
  serve            serve the HTTP API (ask, read, retrieve, documents, health, metrics)
  eval             score the reader on a SQuAD/KorQuAD dataset, as the official scripts do
  train-reader     train or fine-tune a reader on SQuAD-format data (+ synthetic cloze questions)
  pretrain         masked-language-model pretraining on raw text
  distill          teach a student encoder (LittleBird) a teacher's (BERT) hidden states on raw text
  train-retriever  train a dense bi-encoder on question/passage pairs or Inverse-Cloze pairs
  model init       write a randomly initialised model directory
  model convert    start a LittleBird reader from a BERT-family checkpoint
  model export     copy a model with its weights stored as float16 (half the size) or bfloat16
  model info       a model directory's family, window, tokenizer, parameters and stored dtypes
  vocab subset     the part of a vocabulary a from-scratch model trained on a corpus can use

Run `longqa COMMAND --help` for the options of each command.

exit codes:
  0  success
  1  error (a failed write, a document id not in the index, ...)
  2  usage: unknown command or option, bad option value
  3  bad input file: missing or malformed config.json, safetensors checkpoint, index manifest
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace longqa::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::map<std::string, std::function<int(const Argv&)>> commands = {
      {"read", read_command}, {"tokenize", tokenize_command}, {"model init", model_init_command},
      {"model convert", model_convert_command}, {"model export", model_export_command}, {"model info", model_info_command}, {"vocab subset", vocab_subset_command}, {"serve", serve_command},
      {"train-reader", train_reader_command}, {"eval", eval_command}, {"pretrain", pretrain_command}, {"distill", distill_command},
      {"train-retriever", train_retriever_command}, {"index", index_command}, {"search", search_command}, {"ask", ask_command}};
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? kExitUsage : 0;
  }
  // Two-word commands ("model init") first.
  std::string name = args[0];
  size_t used = 1;
  if (args.size() > 1 && commands.count(args[0] + " " + args[1])) {
    name = args[0] + " " + args[1];
    used = 2;
  }
  auto it = commands.find(name);
  if (it == commands.end()) {
    std::cerr << "longqa: unknown command '" << name << "'\n\n" << kUsage;
    return kExitUsage;
  }
  try {
    return it->second(Argv(args.begin() + used, args.end()));
  } catch (const longqa::FileFormatError& e) {
    std::cerr << "longqa " << name << ": bad input file: " << e.what() << "\n";
    return kExitBadInputFile;
  } catch (const std::invalid_argument& e) {
    std::cerr << "longqa " << name << ": " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "longqa " << name << ": error: " << e.what() << "\n";
    return kExitError;
  }
}
