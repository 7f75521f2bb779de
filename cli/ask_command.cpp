// longqa ask: one question over an index — retrieve, read the top documents whole, print
// the best answers (Pipeline::ask, the same call /v1/ask makes).
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "longqa/answer_json.h"
#include "longqa/common/stopwatch.h"
#include "shared_options.h"

namespace longqa::cli {

int ask_command(const Argv& argv) {
  Argv options;
  const std::string question = take_trailing_words(argv, options, {"--json", "--no-answer", "--help", "-h"});
  Args args("ask", "Answers a question over an index: retrieves the top documents, reads each of them whole "
                   "and ranks the answers across them. The question is the last argument: "
                   "longqa ask --model DIR --index DIR [options] \"question\"");
  args.option("model", "reader model directory")
      .option("index", "index directory (`longqa index build`), or a postgresql:// connection string")
      .alias("store", "index")
      .option("question", "the question (or give it as the last argument)", "")
      .option("top-k-documents", "documents read per question", "3")
      .option("top-k-answers", "answers printed", "5");
  add_reader_options(args);
  add_retriever_options(args);
  args.flag("json", "print the answers, documents and timings as JSON (the /v1/ask response)");
  if (!args.parse(options)) return 0;
  const std::string q = args.get("question").empty() ? question : args.get("question");
  if (q.empty()) throw std::invalid_argument("no question given (see --help)");

  AskOptions ask;
  ask.top_k_documents = args.get_int("top-k-documents");
  ask.top_k_answers = args.get_int("top-k-answers");
  if (ask.top_k_documents < 1 || ask.top_k_answers < 1)
    throw std::invalid_argument("--top-k-documents and --top-k-answers must be at least 1");
  Stopwatch clock;
  const Pipeline pipeline =
      Pipeline::open(args.get("model"), args.get("index"), reader_options(args), retriever_options(args), args.get("encoder"));
  const double load_ms = clock.ms();
  const PipelineResult result = pipeline.ask(q, ask);

  if (args.is_set("json")) {
    nlohmann::json out = to_json(result);
    out["question"] = q;
    out["timings_ms"]["load"] = load_ms;
    std::cout << dump_json(out, 2) << "\n";
    return 0;
  }
  if (result.answers.empty()) std::cout << "(no answer)\n";
  int rank = 1;
  for (const auto& a : result.answers) {
    std::cout << rank++ << ". " << std::fixed << std::setprecision(3) << a.score << "  ";
    if (a.no_answer) {
      std::cout << "(no answer)";
    } else {
      std::cout << one_line(a.text, 200) << "  [" << a.document_id << ", chars " << a.begin_char << "-" << a.end_char << "]";
    }
    std::cout << "\n";
  }
  std::cout.flush();
  std::cerr << std::fixed << std::setprecision(1) << "load " << load_ms << " ms, retrieve " << result.timings.retrieve_ms
            << " ms, fetch " << result.timings.fetch_ms << " ms, read " << result.timings.read_ms << " ms ("
            << result.documents.size() << " documents, " << result.tokens << " tokens)\n";
  return 0;
}

}  // namespace longqa::cli
