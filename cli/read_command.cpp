#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "longqa/reader.h"

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
      .option("context-file", "read the document from this file (UTF-8)")
      .option("n-best", "answers to print", "5")
      .option("max-answer-tokens", "longest answer, in tokens", "30")
      .option("window", "tokens per window (0 = the model's maximum)", "0")
      .option("overlap", "document tokens shared by consecutive windows (-1 = a quarter)", "-1")
      .option("threads", "CPU threads (0 = all cores)", "0")
      .flag("no-answer", "allow an empty answer when the model finds none")
      .flag("json", "print JSON");
  if (!args.parse(argv)) return 0;
  if (args.is_set("context") == args.is_set("context-file"))
    throw std::invalid_argument("give exactly one of --context and --context-file");
  const std::string question = args.get("question");
  const std::string document = args.is_set("context") ? args.get("context") : read_text_file(args.get("context-file"));

  ReaderOptions options;
  options.n_best = args.get_int("n-best");
  options.max_answer_tokens = args.get_int("max-answer-tokens");
  options.window_tokens = args.get_int("window");
  options.overlap_tokens = args.get_int("overlap");
  options.num_threads = static_cast<int>(args.get_int("threads"));
  options.allow_no_answer = args.is_set("no-answer");

  const auto t0 = std::chrono::steady_clock::now();
  Reader reader(args.get("model"), options);
  const auto t1 = std::chrono::steady_clock::now();
  const auto answers = reader.read(question, document);
  const auto t2 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };

  if (args.is_set("json")) {
    nlohmann::json out = {{"question", question}, {"answers", nlohmann::json::array()},
                          {"timings_ms", {{"load", ms(t0, t1)}, {"read", ms(t1, t2)}}}};
    for (const auto& a : answers)
      out["answers"].push_back({{"text", a.text}, {"score", a.score}, {"no_answer", a.no_answer},
                                {"begin_char", a.begin_char}, {"end_char", a.end_char},
                                {"begin_byte", a.begin_byte}, {"end_byte", a.end_byte}});
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
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
  std::cerr << std::fixed << std::setprecision(1) << "load " << ms(t0, t1) << " ms, read " << ms(t1, t2) << " ms\n";
  return 0;
}

}  // namespace longqa::cli
