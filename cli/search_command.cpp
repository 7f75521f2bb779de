// longqa search: top documents and their best passages for a question.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "longqa/answer_json.h"
#include "longqa/common/stopwatch.h"
#include "longqa/index.h"
#include "longqa/postgres_store.h"
#include "longqa/retriever.h"
#include "longqa/text_encoder.h"
#include "shared_options.h"

namespace longqa::cli {
using namespace longqa::retriever;

int search_command(const Argv& argv) {
  Argv options;
  std::string question = take_trailing_words(argv, options, {"--json", "--help", "-h"});
  Args args("search", "Retrieves the top documents for a question, each with its best passages. The question "
                      "is the last argument: longqa search --index DIR [options] \"question\"");
  args.option("index", "index directory, or a postgresql:// connection string (the PostgreSQL store)")
      .alias("store", "index")
      .option("question", "the question (or give it as the last argument)")
      .option("k", "documents to return", "5");
  add_retriever_options(args, /*passages_default=*/"1");
  args.flag("json", "print JSON");
  if (!args.parse(options)) return 0;
  if (args.is_set("question")) question = args.get("question");
  if (question.empty()) throw std::invalid_argument("search: no question given");

  const RetrieverOptions retriever_opts = retriever_options(args);
  const int64_t k = args.get_int("k");

  Stopwatch clock;
  const std::string dir = args.get("index");
  const std::string encoder_dir = !args.get("encoder").empty() ? args.get("encoder") : recorded_encoder_path(dir);
  if (encoder_dir.empty())
    throw std::invalid_argument(redact_connection_string(dir) + ": the index records no encoder path; give --encoder");
  const auto store = open_store(dir, std::make_shared<const TextEncoder>(TextEncoder::load(encoder_dir)));
  const Store& index = *store;
  if (const auto* embedded = dynamic_cast<const Index*>(store.get()); embedded && embedded->open_report().missing)
    std::cerr << "warning: " << embedded->open_report().missing
              << " passages are not in the dense index (an interrupted write, or an IVF index still too small "
              << "to train): BM25 finds them; `longqa index repair --index " << dir << "` adds what it can\n";
  const Retriever retriever(index, retriever_opts);
  const double open_ms = clock.ms();
  clock.restart();
  const auto hits = retriever.search(question, k);
  const double search_ms = clock.ms();

  if (args.is_set("json")) {
    nlohmann::json out = {{"question", question},
                          {"mode", to_string(retriever_opts.mode)},
                          {"documents", nlohmann::json::array()},
                          {"timings_ms", {{"open", open_ms}, {"search", search_ms}}}};
    for (const auto& doc : hits) out["documents"].push_back(to_json(doc));
    std::cout << dump_json(out, 2) << "\n";
    return 0;
  }
  if (hits.empty()) std::cout << "(no documents)\n";
  int rank = 1;
  for (const auto& doc : hits) {
    std::cout << rank++ << ". " << std::fixed << std::setprecision(4) << doc.score << "  " << doc.id;
    if (!doc.title.empty() && doc.title != doc.id) std::cout << "  \"" << doc.title << "\"";
    std::cout << "\n";
    for (const auto& p : doc.passages)
      std::cout << "     [passage " << p.index << ", bytes " << p.begin << "-" << p.end << "] " << one_line(p.text, 240)
                << "\n";
  }
  std::cerr << std::fixed << std::setprecision(1) << "open " << open_ms << " ms, search " << search_ms << " ms\n";
  return 0;
}

}  // namespace longqa::cli
