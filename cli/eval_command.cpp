// longqa eval: the reader over a SQuAD/KorQuAD-format dataset; official-format predictions,
// an n-best file, the official scores, and speed and memory. With --index: open-domain
// mode, each question reads the documents the retriever finds, and recall@k is measured.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "args.h"
#include "commands.h"
#include "longqa/qa_dataset.h"
#include "longqa/qa_metrics.h"
#include "longqa/reader.h"
#include "longqa/retriever.h"
#include "longqa/text_encoder.h"
#include "longqa/tokenizer.h"

namespace longqa::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: KiB
}

// Where a question's gold text lives: its article, and its paragraph within the article.
struct GoldPlace {
  size_t article = 0;
  size_t paragraph = 0;
};

// Each dataset document's place, counting paragraphs within an article in file order
// (the order `longqa index build` numbers them).
std::vector<GoldPlace> document_places(const eval::QaDataset& data) {
  std::vector<GoldPlace> places;
  std::map<size_t, size_t> seen;
  for (const auto& d : data.documents) places.push_back({d.article_index, seen[d.article_index]++});
  return places;
}

// Open-domain retrieval over an index built from the same dataset file: what each
// retrieved document is (its place, read from the metadata the corpus reader stored) and
// whether it holds a question's gold paragraph or article.
class OpenDomain {
 public:
  OpenDomain(const std::string& dir, const std::string& encoder_dir, retriever::RetrieverOptions options,
             const std::string& unit, eval::DatasetFormat format)
      : index_(retriever::Index::open(dir, std::make_shared<const TextEncoder>(TextEncoder::load(
                                               encoder_dir.empty() ? retriever::Manifest::read(dir).encoder_path
                                                                   : encoder_dir)))),
        retriever_(index_, options),
        unit_(unit),
        format_(format) {}

  // The top `depth` documents for a question.
  std::vector<retriever::DocumentHit> search(const std::string& question, int64_t depth) const {
    return retriever_.search(question, depth);
  }
  const std::string& text(const std::string& id) {
    return entry(id).text;
  }
  // Does the retrieved document hold the gold? KorQuAD 2.x documents are whole pages named
  // by their title; SQuAD-format ones carry {"article", "paragraph"} (paragraph unit) or
  // {"article", "paragraph_starts"} (article unit) metadata.
  bool holds(const std::string& id, const eval::QaDocument& gold_document, const GoldPlace& gold) {
    if (format_ == eval::DatasetFormat::korquad2) return id == gold_document.id;
    const Entry& e = entry(id);
    return e.article == gold.article && (unit_ == "article" || e.paragraph == gold.paragraph);
  }
  retriever::Index::Stats stats() const { return index_.stats(); }

 private:
  struct Entry {
    std::string text;
    int64_t article = -1, paragraph = -1;
  };
  const Entry& entry(const std::string& id) {
    auto it = cache_.find(id);
    if (it != cache_.end()) return it->second;
    auto document = index_.document(id);
    if (!document) throw std::runtime_error(index_.dir() + ": the retriever returned document '" + id + "', which it does not hold");
    Entry e;
    e.text = std::move(document->text);
    const json metadata = json::parse(document->metadata_json, nullptr, /*allow_exceptions=*/false);
    if (format_ == eval::DatasetFormat::squad) {
      const bool paragraph_unit = metadata.is_object() && metadata.contains("paragraph");
      const bool article_unit = metadata.is_object() && metadata.contains("paragraph_starts");
      if (!metadata.is_object() || !metadata.contains("article") || (!paragraph_unit && !article_unit))
        throw std::invalid_argument(index_.dir() + ": document '" + id + "' was not made from a SQuAD-format file "
                                    "(no article/paragraph metadata); build the index from the --data file");
      if (paragraph_unit != (unit_ == "paragraph"))
        throw std::invalid_argument(index_.dir() + ": the index holds " + (paragraph_unit ? "paragraphs" : "articles") +
                                    " but --unit is " + unit_ + "; build it with `longqa index build --unit " + unit_ + "`");
      e.article = metadata["article"].get<int64_t>();
      if (paragraph_unit) e.paragraph = metadata["paragraph"].get<int64_t>();
    }
    return cache_.emplace(id, std::move(e)).first->second;
  }

  retriever::Index index_;
  retriever::Retriever retriever_;
  std::string unit_;
  eval::DatasetFormat format_;
  std::map<std::string, Entry> cache_;
};

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
      .option("sample", "evaluate N questions spread evenly over the set (every (total/N)-th; 0 = all)", "0")
      .option("n-best", "answers kept per question", "5")
      .option("max-answer-tokens", "longest answer, in tokens", "30")
      .option("window", "tokens per window (0 = the model's maximum)", "0")
      .option("overlap", "document tokens shared by consecutive windows (-1 = a quarter)", "-1")
      .option("threads", "CPU threads (0 = all cores)", "0")
      .option("index", "open-domain: index directory to retrieve from", "")
      .option("encoder", "open-domain: the index's text encoder (default: the one its manifest records)", "")
      .option("mode", "open-domain: fused, dense or bm25", "fused")
      .option("top-k-documents", "open-domain: documents read per question", "5")
      .option("recall-depth", "open-domain: recall is measured at 1, 5, ... up to this many documents", "20")
      .flag("json", "print the result as JSON");
  if (!args.parse(argv)) return 0;
  const std::string unit = args.get("unit");
  if (unit != "paragraph" && unit != "article") throw std::invalid_argument("--unit must be paragraph or article");
  const int64_t top_k_documents = args.get_int("top-k-documents");
  const int64_t recall_depth = std::max(args.get_int("recall-depth"), top_k_documents);
  if (top_k_documents < 1) throw std::invalid_argument("--top-k-documents must be at least 1");

  const auto t0 = Clock::now();
  auto data = eval::select_articles(eval::read_qa_dataset(args.get("data")), eval::parse_article_range(args.get("articles")));
  const int64_t limit = args.get_int("limit"), sample = args.get_int("sample");
  if (limit > 0 && static_cast<int64_t>(data.questions.size()) > limit) data.questions.resize(limit);
  if (sample > 0 && static_cast<int64_t>(data.questions.size()) > sample) {
    std::vector<eval::QaQuestion> kept;  // question floor(i * total / sample) for i < sample
    const auto n = static_cast<int64_t>(data.questions.size());
    for (int64_t i = 0; i < sample; ++i) kept.push_back(std::move(data.questions[static_cast<size_t>(i * n / sample)]));
    data.questions = std::move(kept);
  }
  const auto kind = args.get("metric").empty() ? eval::default_metric(data) : eval::parse_metric_kind(args.get("metric"));
  // Whole-article documents: the article's paragraphs joined in file order.
  std::map<size_t, std::string> articles;
  if (unit == "article")
    for (const auto& d : data.documents) {
      auto& text = articles[d.article_index];
      text += (text.empty() ? "" : "\n\n") + d.context;
    }
  const auto places = document_places(data);
  ReaderOptions options;
  options.n_best = args.get_int("n-best");
  options.max_answer_tokens = args.get_int("max-answer-tokens");
  options.window_tokens = args.get_int("window");
  options.overlap_tokens = args.get_int("overlap");
  options.num_threads = static_cast<int>(args.get_int("threads"));
  const auto t1 = Clock::now();
  Reader reader(args.get("model"), options);
  std::unique_ptr<OpenDomain> open_domain;
  retriever::RetrieverOptions retriever_options;
  retriever_options.mode = retriever::parse_search_mode(args.get("mode"));
  if (!args.get("index").empty())
    open_domain = std::make_unique<OpenDomain>(args.get("index"), args.get("encoder"), retriever_options, unit, data.format);
  const auto t2 = Clock::now();

  // Tokens read per document text (the question's tokens are added per question).
  std::map<const std::string*, int64_t> token_counts;
  auto tokens_of = [&](const std::string& text) {
    auto [it, added] = token_counts.emplace(&text, 0);
    if (added) it->second = static_cast<int64_t>(reader.tokenizer().tokenize(text).size());
    return it->second;
  };

  eval::PredictionMap predictions;
  json nbest = json::object();
  std::vector<json> per_question;
  std::vector<int64_t> gold_ranks;  // open-domain: 1-based rank of the gold document, 0 = not in recall_depth
  double retrieve_ms = 0, read_ms = 0;
  int64_t tokens_read = 0;
  int64_t done = 0;
  const int64_t total = static_cast<int64_t>(data.questions.size());
  for (const auto& q : data.questions) {
    const auto& doc = data.documents[q.document_index];
    ReadRequest request{q.question, {}};
    std::vector<const std::string*> texts;
    int64_t gold_rank = 0;
    const auto start = Clock::now();
    if (open_domain) {
      const auto hits = open_domain->search(q.question, recall_depth);
      for (size_t r = 0; r < hits.size(); ++r) {
        if (gold_rank == 0 && open_domain->holds(hits[r].id, doc, places[q.document_index])) gold_rank = static_cast<int64_t>(r) + 1;
        if (static_cast<int64_t>(r) < top_k_documents) texts.push_back(&open_domain->text(hits[r].id));
      }
      gold_ranks.push_back(gold_rank);
    } else {
      texts.push_back(unit == "article" ? &articles[doc.article_index] : &doc.context);
    }
    const auto retrieved = Clock::now();
    int64_t question_tokens = static_cast<int64_t>(reader.tokenizer().tokenize(q.question).size());
    int64_t tokens = 0;
    for (const std::string* t : texts) {
      request.documents.push_back(*t);
      tokens += question_tokens + tokens_of(*t);
    }
    const auto read_start = Clock::now();
    const auto answers = reader.read(request);
    const auto end = Clock::now();
    retrieve_ms += ms_between(start, retrieved);
    read_ms += ms_between(read_start, end);
    tokens_read += tokens;

    predictions[q.id] = answers.empty() ? "" : answers.front().text;
    auto& list = nbest[q.id] = json::array();
    for (const auto& a : answers)
      list.push_back({{"text", a.text}, {"score", a.score}, {"begin_char", a.begin_char}, {"end_char", a.end_char},
                      {"document", a.document}});
    json record = {{"id", q.id}, {"tokens", tokens}, {"documents", texts.size()},
                   {"read_ms", ms_between(read_start, end)}};
    if (open_domain) record["retrieve_ms"] = ms_between(start, retrieved), record["gold_rank"] = gold_rank;
    per_question.push_back(std::move(record));
    if (++done % 50 == 0 || done == total) {
      const double elapsed = ms_between(t2, Clock::now()) / 1000;
      std::cerr << "\r" << done << "/" << total << " questions, " << std::fixed << std::setprecision(1)
                << done / elapsed << " q/s, ETA " << (total - done) / (done / elapsed) << " s" << std::flush;
    }
  }
  std::cerr << "\n";
  const auto t3 = Clock::now();
  const auto result = eval::evaluate(kind, data, predictions);
  if (!args.get("predictions").empty()) eval::write_predictions(args.get("predictions"), predictions);
  if (!args.get("nbest").empty())
    std::ofstream(args.get("nbest")) << nbest.dump(1, ' ', false, json::error_handler_t::replace) << "\n";
  if (!args.get("per-question").empty()) {
    const auto scores = eval::score_questions(kind, data, predictions);
    std::ofstream out(args.get("per-question"));
    if (!out) throw std::runtime_error(args.get("per-question") + ": cannot write");
    for (size_t i = 0; i < per_question.size(); ++i) {
      per_question[i]["exact_match"] = scores[i].exact_match;
      per_question[i]["f1"] = scores[i].f1;
      out << per_question[i].dump() << "\n";
    }
  }

  const double seconds = std::max(ms_between(t2, t3) / 1000, 1e-9);
  json out = {
      {"exact_match", result.exact_match},
      {"f1", result.f1},
      {"questions", result.total},
      {"unit", unit},
      {"metric", eval::to_string(kind)},
      {"timings_ms", {{"load_data", ms_between(t0, t1)}, {"load_model", ms_between(t1, t2)}, {"retrieve", retrieve_ms},
                      {"read", read_ms}, {"score", ms_between(t3, Clock::now())}}},
      {"questions_per_second", static_cast<double>(total) / seconds},
      {"tokens_read", tokens_read},
      {"tokens_per_second", static_cast<double>(tokens_read) / seconds},
      {"peak_rss_mib", peak_rss_mib()}};
  if (open_domain) {
    json recall = json::object();
    for (int64_t k : {int64_t{1}, int64_t{5}, int64_t{10}, int64_t{20}, int64_t{50}, int64_t{100}, top_k_documents}) {
      if (k > recall_depth) continue;
      const auto found = std::count_if(gold_ranks.begin(), gold_ranks.end(), [k](int64_t r) { return r >= 1 && r <= k; });
      recall["@" + std::to_string(k)] = static_cast<double>(found) / static_cast<double>(std::max<size_t>(1, gold_ranks.size()));
    }
    out["open_domain"] = {{"index", args.get("index")},
                          {"mode", retriever::to_string(retriever_options.mode)},
                          {"documents", open_domain->stats().documents},
                          {"top_k_documents", top_k_documents},
                          {"recall", recall}};
  }
  if (args.is_set("json")) {
    std::cout << out.dump(2) << "\n";
  } else {
    json brief = {{"exact_match", result.exact_match}, {"f1", result.f1}};
    if (open_domain) brief["recall"] = out["open_domain"]["recall"];
    std::cout << brief.dump() << "\n";
    std::cerr << "read " << total << " questions in " << std::fixed << std::setprecision(1) << seconds << " s ("
              << static_cast<double>(tokens_read) / seconds << " tokens/s), peak memory " << peak_rss_mib() << " MiB\n";
  }
  return 0;
}

}  // namespace longqa::cli
