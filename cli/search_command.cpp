// longqa search: top documents and their best passages for a question.
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "longqa/retriever.h"
#include "longqa/text_encoder.h"

namespace longqa::cli {
namespace {

using namespace longqa::retriever;

// At most `max_bytes` of `text` on one line, cut at a UTF-8 character boundary.
std::string snippet(const std::string& text, size_t max_bytes) {
  std::string line = text;
  for (char& c : line)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (line.size() <= max_bytes) return line;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  return line.substr(0, cut) + "…";
}

}  // namespace

int search_command(const Argv& argv) {
  // The question may come as the (last) words that belong to no option.
  const std::vector<std::string> flags = {"--json", "--help", "-h"};
  Argv options;
  std::string question;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.rfind("--", 0) == 0 || a == "-h") {
      options.push_back(a);
      const bool takes_value = a.find('=') == std::string::npos &&
                               std::find(flags.begin(), flags.end(), a) == flags.end();
      if (takes_value && i + 1 < argv.size()) options.push_back(argv[++i]);
    } else {
      question += (question.empty() ? "" : " ") + a;
    }
  }
  Args args("search", "Retrieves the top documents for a question, each with its best passages. The question "
                      "is the last argument: longqa search --index DIR [options] \"question\"");
  args.option("index", "index directory")
      .option("question", "the question (or give it as the last argument)")
      .option("mode", "fused (dense + BM25, reciprocal rank fusion), dense or bm25", "fused")
      .option("k", "documents to return", "5")
      .option("passages", "best passages shown per document", "1")
      .option("candidates", "passages each method ranks before fusion", "100")
      .option("rrf-k", "reciprocal rank fusion constant", "60")
      .option("dense-weight", "weight of the dense ranking in fusion", "1")
      .option("bm25-weight", "weight of the BM25 ranking in fusion", "1")
      .option("encoder", "encoder directory (default: the one the index records)")
      .flag("json", "print JSON");
  if (!args.parse(options)) return 0;
  if (args.is_set("question")) question = args.get("question");
  if (question.empty()) throw std::invalid_argument("search: no question given");

  RetrieverOptions retriever_options;
  retriever_options.mode = parse_search_mode(args.get("mode"));
  retriever_options.passages_per_document = args.get_int("passages");
  retriever_options.candidates = args.get_int("candidates");
  retriever_options.rrf_k = args.get_double("rrf-k");
  retriever_options.dense_weight = args.get_double("dense-weight");
  retriever_options.bm25_weight = args.get_double("bm25-weight");
  const int64_t k = args.get_int("k");

  const auto t0 = std::chrono::steady_clock::now();
  const std::string dir = args.get("index");
  const std::string encoder_dir = args.is_set("encoder") ? args.get("encoder") : Manifest::read(dir).encoder_path;
  if (encoder_dir.empty()) throw std::invalid_argument(dir + ": the manifest records no encoder path; give --encoder");
  const Index index = Index::open(dir, std::make_shared<const TextEncoder>(TextEncoder::load(encoder_dir)));
  if (index.open_report().missing)
    std::cerr << "warning: " << index.open_report().missing
              << " passages are not in the dense index (an interrupted write, or an IVF index still too small "
              << "to train): BM25 finds them; `longqa index repair --index " << dir << "` adds what it can\n";
  const Retriever retriever(index, retriever_options);
  const auto t1 = std::chrono::steady_clock::now();
  const auto hits = retriever.search(question, k);
  const auto t2 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };

  if (args.is_set("json")) {
    nlohmann::json out = {{"question", question},
                          {"mode", to_string(retriever_options.mode)},
                          {"documents", nlohmann::json::array()},
                          {"timings_ms", {{"open", ms(t0, t1)}, {"search", ms(t1, t2)}}}};
    for (const auto& doc : hits) {
      nlohmann::json passages = nlohmann::json::array();
      for (const auto& p : doc.passages)
        passages.push_back({{"id", p.id},
                            {"index", p.index},
                            {"begin_byte", p.begin},
                            {"end_byte", p.end},
                            {"score", p.score},
                            {"dense_rank", p.dense_rank},
                            {"dense_score", p.dense_score},
                            {"bm25_rank", p.bm25_rank},
                            {"bm25_score", p.bm25_score},
                            {"text", p.text}});
      out["documents"].push_back({{"id", doc.id}, {"title", doc.title}, {"score", doc.score}, {"passages", passages}});
    }
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  if (hits.empty()) std::cout << "(no documents)\n";
  int rank = 1;
  for (const auto& doc : hits) {
    std::cout << rank++ << ". " << std::fixed << std::setprecision(4) << doc.score << "  " << doc.id;
    if (!doc.title.empty() && doc.title != doc.id) std::cout << "  \"" << doc.title << "\"";
    std::cout << "\n";
    for (const auto& p : doc.passages)
      std::cout << "     [passage " << p.index << ", bytes " << p.begin << "-" << p.end << "] " << snippet(p.text, 240)
                << "\n";
  }
  std::cerr << std::fixed << std::setprecision(1) << "open " << ms(t0, t1) << " ms, search " << ms(t1, t2) << " ms\n";
  return 0;
}

}  // namespace longqa::cli
