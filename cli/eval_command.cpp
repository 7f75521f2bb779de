// longqa eval: the reader over a SQuAD/KorQuAD-format dataset; official-format predictions,
// an n-best file, and the official scores.
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "longqa/qa_dataset.h"
#include "longqa/qa_metrics.h"
#include "longqa/reader.h"

namespace longqa::cli {

int eval_command(const Argv& argv) {
  Args args("eval", "Runs the reader over a SQuAD/KorQuAD-format dataset and scores it exactly as the official "
                    "scripts do (SQuAD 1.1, KorQuAD 1.0, KorQuAD 2.0). --unit article reads each whole article as "
                    "one long document (its paragraphs joined by blank lines).");
  args.option("model", "reader model directory")
      .option("data", "dataset JSON file (or a folder of KorQuAD 2.x JSON files)")
      .option("predictions", "write {question_id: answer} here (the official format)", "")
      .option("nbest", "write the n best answers with scores and offsets here", "")
      .option("metric", "squad_v1, korquad_v1 or korquad_v2 (default: from the data)", "")
      .option("unit", "paragraph (each question reads its context) or article (the whole article)", "paragraph")
      .option("limit", "evaluate only the first N questions (0 = all)", "0")
      .option("n-best", "answers kept per question", "5")
      .option("max-answer-tokens", "longest answer, in tokens", "30")
      .option("window", "tokens per window (0 = the model's maximum)", "0")
      .option("overlap", "document tokens shared by consecutive windows (-1 = a quarter)", "-1")
      .option("threads", "CPU threads (0 = all cores)", "0")
      .flag("json", "print the result as JSON");
  if (!args.parse(argv)) return 0;
  const std::string unit = args.get("unit");
  if (unit != "paragraph" && unit != "article") throw std::invalid_argument("--unit must be paragraph or article");

  using clock = std::chrono::steady_clock;
  auto ms = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  const auto t0 = clock::now();
  auto data = eval::read_qa_dataset(args.get("data"));
  const int64_t limit = args.get_int("limit");
  if (limit > 0 && static_cast<int64_t>(data.questions.size()) > limit) data.questions.resize(limit);
  const auto kind = args.get("metric").empty() ? eval::default_metric(data.format) : eval::parse_metric_kind(args.get("metric"));
  // Whole-article documents: the article's paragraphs joined in file order.
  std::map<size_t, std::string> articles;
  if (unit == "article")
    for (const auto& d : data.documents) {
      auto& text = articles[d.article_index];
      text += (text.empty() ? "" : "\n\n") + d.context;
    }
  ReaderOptions options;
  options.n_best = args.get_int("n-best");
  options.max_answer_tokens = args.get_int("max-answer-tokens");
  options.window_tokens = args.get_int("window");
  options.overlap_tokens = args.get_int("overlap");
  options.num_threads = static_cast<int>(args.get_int("threads"));
  const auto t1 = clock::now();
  Reader reader(args.get("model"), options);
  const auto t2 = clock::now();

  eval::PredictionMap predictions;
  nlohmann::json nbest = nlohmann::json::object();
  int64_t done = 0;
  const int64_t total = static_cast<int64_t>(data.questions.size());
  for (const auto& q : data.questions) {
    const auto& doc = data.documents[q.document_index];
    const std::string& context = unit == "article" ? articles[doc.article_index] : doc.context;
    const auto answers = reader.read(q.question, context);
    predictions[q.id] = answers.empty() ? "" : answers.front().text;
    auto& list = nbest[q.id] = nlohmann::json::array();
    for (const auto& a : answers)
      list.push_back({{"text", a.text}, {"score", a.score}, {"begin_char", a.begin_char}, {"end_char", a.end_char}});
    if (++done % 50 == 0 || done == total) {
      const double elapsed = ms(t2, clock::now()) / 1000;
      std::cerr << "\r" << done << "/" << total << " questions, " << std::fixed << std::setprecision(1)
                << done / elapsed << " q/s, ETA " << (total - done) / (done / elapsed) << " s" << std::flush;
    }
  }
  std::cerr << "\n";
  const auto t3 = clock::now();
  const auto result = eval::evaluate(kind, data, predictions);
  if (!args.get("predictions").empty()) eval::write_predictions(args.get("predictions"), predictions);
  if (!args.get("nbest").empty())
    std::ofstream(args.get("nbest")) << nbest.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";

  const nlohmann::json out = {
      {"exact_match", result.exact_match},
      {"f1", result.f1},
      {"questions", result.total},
      {"unit", unit},
      {"timings_ms", {{"load_data", ms(t0, t1)}, {"load_model", ms(t1, t2)}, {"read", ms(t2, t3)},
                      {"score", ms(t3, clock::now())}}},
      {"questions_per_second", static_cast<double>(total) / std::max(ms(t2, t3) / 1000, 1e-9)}};
  if (args.is_set("json")) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << nlohmann::json{{"exact_match", result.exact_match}, {"f1", result.f1}}.dump() << "\n";
    std::cerr << "read " << total << " questions in " << ms(t2, t3) / 1000 << " s\n";
  }
  return 0;
}

}  // namespace longqa::cli
