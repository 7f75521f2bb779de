// longqa read: one question, one document of any length (the reader alone, no index).
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "longqa/answer_json.h"
#include "longqa/common/stopwatch.h"
#include "longqa/reader.h"
#include "longqa/retriever.h"
#include "longqa/text_encoder.h"
#include "shared_options.h"

namespace longqa::cli {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path + ": read error");
  return out.str();
}

int read_command(const Argv& argv) {
  Args args("read", "Answers a question from one document of any length. Documents longer than the "
                    "model's window are read in overlapping windows and the answers merged.");
  args.option("model", "model directory (config.json, model.safetensors, vocab.txt or tokenizer.json)")
      .option("question", "the question")
      .option("context", "the document text")
      .option("context-file", "read the document from this file (UTF-8)");
  add_reader_options(args);
  args.option("encoder", "a text encoder directory (e.g. the retriever's) that scores the document's passages "
                         "for the passage prior (default: none, no prior)", "")
      .flag("json", "print JSON (the /v1/read response's answers)");
  add_prior_passage_options(args);
  if (!args.parse(argv)) return 0;
  if (args.is_set("context") == args.is_set("context-file"))
    throw std::invalid_argument("give exactly one of --context and --context-file");
  const std::string question = args.get("question");
  const std::string document = args.is_set("context") ? args.get("context") : read_text_file(args.get("context-file"));

  Stopwatch clock;
  const Reader reader(args.get("model"), reader_options(args));
  std::unique_ptr<TextEncoder> encoder;  // only when it will be used
  if (!args.get("encoder").empty() && reader.options().passage_weight > 0)
    encoder = std::make_unique<TextEncoder>(TextEncoder::load(args.get("encoder")));
  const double load_ms = clock.ms();
  clock.restart();
  ReadRequest request{question, {document}};
  if (encoder) {
    retriever::Document whole;
    whole.text = document;
    request.relevance = {retriever::passage_relevance(*encoder, prior_passage_options(args), whole, question)};
  }
  const auto answers = reader.read(request);
  const double read_ms = clock.ms();

  if (args.is_set("json")) {
    nlohmann::json out = {{"question", question}, {"answers", nlohmann::json::array()},
                          {"timings_ms", {{"load", load_ms}, {"read", read_ms}}}};
    for (const auto& a : answers) out["answers"].push_back(to_json(a));
    std::cout << dump_json(out, 2) << "\n";
    return 0;
  }
  if (answers.empty()) std::cout << "(no answer)\n";
  int rank = 1;
  for (const auto& a : answers) {
    std::cout << rank++ << ". " << std::fixed << std::setprecision(3) << a.score << "  ";
    if (a.no_answer)
      std::cout << "(no answer)\n";
    else
      std::cout << "[chars " << a.begin_char << "-" << a.end_char << "]  " << a.text << "\n";
  }
  std::cout.flush();
  std::cerr << std::fixed << std::setprecision(1) << "load " << load_ms << " ms, read " << read_ms << " ms\n";
  return 0;
}

}  // namespace longqa::cli
