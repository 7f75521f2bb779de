// longqa eval: thin over eval::run_evaluation (longqa/eval_runner.h): parse the options, load
// the dataset and the reader (or the pipeline, with --index), write the files asked for.
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "longqa/answer_json.h"
#include "longqa/common/stopwatch.h"
#include "longqa/eval_runner.h"
#include "longqa/text_encoder.h"
#include "shared_options.h"

namespace longqa::cli {
namespace {

std::ofstream open_output(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error(path + ": cannot write");
  return out;
}

}  // namespace

int eval_command(const Argv& argv) {
  Args args("eval",
            "Runs the reader over a SQuAD/KorQuAD-format dataset and scores it exactly as the official scripts do "
            "(SQuAD 1.1, KorQuAD 1.0, KorQuAD 2.0). --unit article reads each whole article as one long document "
            "(its paragraphs joined by blank lines). With --index (built from the same file by `longqa index build "
            "--corpus FILE --unit UNIT`) each question reads the top documents the retriever finds instead of its "
            "own (open-domain), and retriever recall@k is reported too.");
  args.option("model", "reader model directory")
      .option("data", "dataset JSON file (or a folder of KorQuAD 2.x JSON files)")
      .option("predictions", "write {question_id: answer} here (the official format)", "")
      .option("nbest", "write the n best answers with scores and offsets here", "")
      .option("per-question", "write one JSON line per question here: tokens read, milliseconds, EM, F1, recall rank", "")
      .option("metric", "squad_v1, korquad_v1 or korquad_v2 (default: korquad_v2 for KorQuAD 2.x, korquad_v1 when the version says KorQuAD, else squad_v1)", "")
      .option("unit", "paragraph (each question reads its context) or article (the whole article)", "paragraph")
      .option("articles", "evaluate only the questions of articles BEGIN:END (e.g. 16: for the articles a reader "
                          "trained on 0:16 did not see)", "")
      .option("limit", "evaluate only the first N questions (0 = all)", "0")
      .option("sample", "evaluate N questions spread evenly over the set (every (total/N)-th; 0 = all)", "0");
  add_reader_options(args, /*with_no_answer=*/false);
  args.option("index", "open-domain: index directory (or postgresql:// connection string) to retrieve from", "")
      .alias("store", "index")
      .option("top-k-documents", "open-domain: documents read per question", "5")
      .option("recall-depth", "open-domain: recall is measured at 1, 5, ... up to this many documents", "20");
  add_retriever_options(args);
  args.flag("json", "print the result as JSON");
  args.describe("encoder",
                "text encoder directory: with --index, the index's (default: the one its manifest records); without, "
                "the one that scores each document's passages for the passage prior (e.g. the retriever's; default: "
                "none, no prior)");
  add_prior_passage_options(args, "without --index: ");
  if (!args.parse(argv)) return 0;

  eval::EvaluationOptions options;
  options.unit = eval::parse_eval_unit(args.get("unit"));
  if (!args.get("metric").empty()) options.metric = eval::parse_metric_kind(args.get("metric"));
  options.top_k_documents = args.get_int("top-k-documents");
  options.recall_depth = args.get_int("recall-depth");
  if (options.top_k_documents < 1) throw std::invalid_argument("--top-k-documents must be at least 1");

  Stopwatch clock;
  const auto data = eval::select_questions(
      eval::select_articles(eval::read_qa_dataset(args.get("data")), eval::parse_article_range(args.get("articles"))),
      args.get_int("limit"), args.get_int("sample"));
  const double load_data_ms = clock.ms();
  clock.restart();
  const ReaderOptions reader = reader_options(args);
  eval::EvaluationRun run;
  double load_model_ms = 0;
  int64_t index_documents = 0;
  if (args.get("index").empty()) {
    const Reader model(args.get("model"), reader);
    if (!args.get("encoder").empty()) {
      options.passage_encoder = std::make_shared<const TextEncoder>(TextEncoder::load(args.get("encoder")));
      options.passage_options = prior_passage_options(args);
    }
    load_model_ms = clock.ms();
    run = eval::run_evaluation(data, model, options);
  } else {
    const Pipeline pipeline =
        Pipeline::open(args.get("model"), args.get("index"), reader, retriever_options(args), args.get("encoder"));
    load_model_ms = clock.ms();
    index_documents = pipeline.index().stats().documents;
    run = eval::run_evaluation(data, pipeline, options);
  }

  if (!args.get("predictions").empty()) eval::write_predictions(args.get("predictions"), run.predictions);
  if (!args.get("nbest").empty()) open_output(args.get("nbest")) << dump_json(run.nbest_json(), 1) << "\n";
  if (!args.get("per-question").empty()) {
    auto out = open_output(args.get("per-question"));
    for (size_t i = 0; i < run.questions.size(); ++i) out << dump_json(run.question_json(i)) << "\n";
  }
  nlohmann::json summary = run.summary_json();
  summary["timings_ms"]["load_data"] = load_data_ms;
  summary["timings_ms"]["load_model"] = load_model_ms;
  summary["reader"] = {{"dtype", reader.dtype},
                       {"score_calibration", reader.score_calibration},
                       {"window_tokens", reader.window_tokens},
                       {"batch_tokens", reader.batch_tokens},
                       {"passage_weight", reader.passage_weight},
                       {"passage_prior", reader.passage_weight == 0 ? "off"
                                         : !args.get("index").empty() ? "index"
                                         : options.passage_encoder ? "encoder " + options.passage_encoder->id()
                                                                   : std::string("off (no --encoder)")}};
  if (options.passage_encoder && reader.passage_weight > 0)
    summary["reader"]["prior_passages"] = {{"tokens", options.passage_options.passage_tokens},
                                           {"overlap", options.passage_options.passage_overlap}};
  if (run.open_domain) {
    summary["open_domain"]["index"] = args.get("index");
    summary["open_domain"]["mode"] = args.get("mode");
    summary["open_domain"]["documents"] = index_documents;
  }
  if (args.is_set("json")) {
    std::cout << summary.dump(2) << "\n";
  } else {
    nlohmann::json brief = {{"exact_match", run.score.exact_match}, {"f1", run.score.f1}};
    if (run.open_domain) brief["recall"] = summary["open_domain"]["recall"];
    std::cout << brief.dump() << "\n";
    std::cerr << "read " << run.questions.size() << " questions in " << std::fixed << std::setprecision(1)
              << run.seconds << " s (" << static_cast<double>(run.tokens_read) / run.seconds << " tokens/s), peak memory "
              << summary["peak_rss_mib"].get<double>() << " MiB\n";
  }
  return 0;
}

}  // namespace longqa::cli
