// Dense index speed on synthetic 384-d embeddings (clustered, L2-normalised, inner product):
// build throughput and search latency/QPS at 10k, 100k and 1M vectors for Flat, HNSW32 and
// (at 1M) IVF1024,Flat — raw FAISS against our path on the same vectors: Index::add_encoded +
// commit (docstore rows, ids, atomic file, manifest), Index::dense_search (ids, deletions,
// locking) and Retriever dense search (plus passage -> document lookups and grouping).
// Prints a table and writes JSON (default bench/results/faiss_speed.json).
#include <ATen/core/Tensor.h>
#include <faiss/Index.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/index_factory.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "longqa/index.h"
#include "longqa/model_config.h"
#include "longqa/qa_model.h"
#include "longqa/retriever.h"
#include "longqa/text_encoder.h"

using namespace longqa;
using namespace longqa::retriever;
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kDim = 384;
constexpr int64_t kTopK = 10;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Vectors around 1000 random centres, with noise about as large as the centre: enough
// structure for graph and IVF indexes to behave as on real embeddings. Normalised.
std::vector<float> synthetic(int64_t n, uint32_t seed, const std::vector<float>& centres) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 1.f / std::sqrt(static_cast<float>(kDim)));
  std::uniform_int_distribution<int64_t> pick(0, static_cast<int64_t>(centres.size()) / kDim - 1);
  std::vector<float> x(static_cast<size_t>(n * kDim));
  for (int64_t i = 0; i < n; ++i) {
    const float* c = centres.data() + pick(rng) * kDim;
    float* v = x.data() + i * kDim;
    double norm = 0;
    for (int64_t j = 0; j < kDim; ++j) {
      v[j] = c[j] + noise(rng);
      norm += static_cast<double>(v[j]) * v[j];
    }
    const auto scale = static_cast<float>(1 / std::sqrt(norm));
    for (int64_t j = 0; j < kDim; ++j) v[j] *= scale;
  }
  return x;
}

std::vector<float> random_centres(int64_t count) {
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0.f, 1.f / std::sqrt(static_cast<float>(kDim)));
  std::vector<float> c(static_cast<size_t>(count * kDim));
  for (float& v : c) v = g(rng);
  return c;
}

struct Latency {
  double median_ms = 0, p99_ms = 0;
};

Latency latency(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)]};
}

// Mean fraction of the exact top-k found.
double recall_at_k(const std::vector<std::vector<int64_t>>& found, const std::vector<std::vector<int64_t>>& exact) {
  double sum = 0;
  for (size_t q = 0; q < exact.size(); ++q) {
    const std::set<int64_t> truth(exact[q].begin(), exact[q].end());
    int64_t hit = 0;
    for (int64_t id : found[q]) hit += truth.count(id);
    sum += static_cast<double>(hit) / static_cast<double>(truth.size());
  }
  return sum / static_cast<double>(exact.size());
}

void set_breadth(faiss::Index* index) {
  if (auto h = dynamic_cast<faiss::IndexHNSW*>(index)) h->hnsw.efSearch = 128;
  if (auto ivf = dynamic_cast<faiss::IndexIVF*>(index)) ivf->nprobe = 32;
}

json timing(double seconds, int64_t count) {
  return {{"seconds", seconds}, {"per_second", static_cast<double>(count) / seconds}};
}

json latency_json(const Latency& l) { return {{"median_ms", l.median_ms}, {"p99_ms", l.p99_ms}}; }

struct Config {
  int64_t n;
  std::string factory;
};

json run(const Config& config, const std::vector<float>& base, const std::vector<float>& queries, int64_t batch_queries,
         int64_t single_count, const std::shared_ptr<const TextEncoder>& encoder, const fs::path& work,
         std::vector<std::vector<int64_t>>& exact) {
  const int64_t n = config.n;
  std::cerr << config.factory << " at " << n << ": raw build ..." << std::flush;
  json row = {{"vectors", n}, {"factory", config.factory}, {"k", kTopK}};

  // Raw FAISS: index_factory, training when needed (on as many vectors as ours), add.
  auto t0 = Clock::now();
  std::unique_ptr<faiss::Index> raw(faiss::index_factory(kDim, config.factory.c_str(), faiss::METRIC_INNER_PRODUCT));
  if (!raw->is_trained) raw->train(std::min<int64_t>(n, 39 * 1024), base.data());
  raw->add(n, base.data());
  row["raw_build"] = timing(seconds_since(t0), n);
  set_breadth(raw.get());

  // Ours: an index directory with one single-passage document per vector.
  std::cerr << " our build ..." << std::flush;
  const fs::path dir = work / (config.factory + "-" + std::to_string(n));
  fs::remove_all(dir);
  IndexOptions options;
  options.factory = config.factory;
  options.bm25 = Bm25Tokenization::kTrigram;
  {
    Index writer = Index::create(dir.string(), encoder, options);
    std::vector<DocumentPassages> items;
    items.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      DocumentPassages& item = items.emplace_back();
      item.document.id = "d" + std::to_string(i);
      item.document.text = "document " + std::to_string(i);
      item.document.metadata_json = "{}";
      item.passages.push_back({0, 0, static_cast<int64_t>(item.document.text.size())});
    }
    t0 = Clock::now();
    writer.add_encoded(std::move(items), base.data());
    const double add_seconds = seconds_since(t0);
    const auto t1 = Clock::now();
    writer.commit();
    const double commit_seconds = seconds_since(t1);
    row["ours_build"] = timing(add_seconds + commit_seconds, n);
    row["ours_build"]["add_seconds"] = add_seconds;
    row["ours_build"]["commit_seconds"] = commit_seconds;
    row["ours_build"]["dense_file_bytes"] = writer.manifest().dense_digest.bytes;
  }
  t0 = Clock::now();
  const Index index = Index::open(dir.string(), encoder);  // checksum, load, reconcile
  row["ours_open_seconds"] = seconds_since(t0);
  RetrieverOptions dense;
  dense.mode = SearchMode::kDense;
  const Retriever retriever(index, dense);
  row["retriever_candidates"] = std::max(dense.candidates, 4 * kTopK);

  // Searches: the three paths take turns, so that they share whatever else loads the machine.
  std::cerr << " search ..." << std::flush;
  std::vector<float> distances(static_cast<size_t>(batch_queries * kTopK));
  std::vector<faiss::Index::idx_t> labels(distances.size());
  const std::vector<std::string> texts(static_cast<size_t>(batch_queries));
  double raw_best = 1e30, ours_best = 1e30, retriever_best = 1e30;
  std::vector<std::vector<ScoredId>> ours_hits;
  for (int round = 0; round < 3; ++round) {
    t0 = Clock::now();
    raw->search(batch_queries, queries.data(), kTopK, distances.data(), labels.data());
    raw_best = std::min(raw_best, seconds_since(t0));
    t0 = Clock::now();
    ours_hits = index.dense_search(queries.data(), batch_queries, kTopK);
    ours_best = std::min(ours_best, seconds_since(t0));
    t0 = Clock::now();
    retriever.search_batch(texts, queries.data(), kTopK);
    retriever_best = std::min(retriever_best, seconds_since(t0));
  }
  row["raw_batch_search"] = timing(raw_best, batch_queries);
  row["ours_batch_search"] = timing(ours_best, batch_queries);
  row["retriever_batch_search"] = timing(retriever_best, batch_queries);

  std::vector<std::vector<int64_t>> raw_found, ours_found;
  for (int64_t q = 0; q < batch_queries; ++q) {
    auto& f = raw_found.emplace_back();
    for (int64_t j = 0; j < kTopK; ++j) f.push_back(labels[static_cast<size_t>(q * kTopK + j)] + 1);  // ids from 1
    auto& o = ours_found.emplace_back();
    for (const auto& h : ours_hits[static_cast<size_t>(q)]) o.push_back(h.id);
  }
  if (config.factory == "Flat") exact = raw_found;  // exhaustive: the ground truth
  row["raw_recall_at_10"] = recall_at_k(raw_found, exact);
  row["ours_recall_at_10"] = recall_at_k(ours_found, exact);

  // One query at a time on one thread, as a server's request threads would run them.
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<double> raw_ms, ours_ms, retriever_ms;
  auto ms_of = [](auto&& f) {
    const auto a = Clock::now();
    f();
    return std::chrono::duration<double, std::milli>(Clock::now() - a).count();
  };
  for (int64_t q = 0; q < single_count; ++q) {
    const float* query = queries.data() + q * kDim;
    raw_ms.push_back(ms_of([&] { raw->search(1, query, kTopK, distances.data(), labels.data()); }));
    ours_ms.push_back(ms_of([&] { index.dense_search(query, 1, kTopK); }));
    retriever_ms.push_back(ms_of([&] { retriever.search_batch({std::string()}, query, kTopK); }));
  }
  omp_set_num_threads(threads);
  row["raw_single_search"] = latency_json(latency(raw_ms));
  row["ours_single_search"] = latency_json(latency(ours_ms));
  row["retriever_single_search"] = latency_json(latency(retriever_ms));
  std::cerr << " done\n";
  fs::remove_all(dir);
  return row;
}

// A random BERT with hidden size 384: Index needs an encoder (its id and dimension), but
// this benchmark gives the vectors itself.
std::shared_ptr<const TextEncoder> stand_in_encoder(const fs::path& dir) {
  ModelConfig c;
  c.model_type = "bert";
  c.vocab_size = 8;
  c.hidden_size = kDim;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 6;
  c.intermediate_size = 4 * kDim;
  QaModel::random(c, 1).save(dir.string());
  std::ofstream(dir / "vocab.txt") << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\nc\n";
  return std::make_shared<const TextEncoder>(TextEncoder::load(dir.string()));
}

std::string fixed(double x, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << x;
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {10000, 100000, 1000000};
  std::string out_path = std::string(LONGQA_SOURCE_DIR) + "/bench/results/faiss_speed.json";
  int64_t batch_queries = 1000, single_count = 200;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      std::stringstream list(argv[++i]);
      for (std::string s; std::getline(list, s, ',');) sizes.push_back(std::stoll(s));
    } else if (a == "--queries" && i + 1 < argc) {
      batch_queries = std::stoll(argv[++i]);
    } else {
      std::cout << "usage: faiss_speed_bench [--sizes 10000,100000,1000000] [--queries 1000] [--out FILE]\n"
                   "Build throughput and search latency/QPS of raw FAISS vs longqa's Index/Retriever dense path.\n";
      return a == "--help" ? 0 : 2;
    }
  }
  const fs::path work = fs::temp_directory_path() / ("longqa-faiss-bench-" + std::to_string(::getpid()));
  fs::create_directories(work / "encoder");
  const auto encoder = stand_in_encoder(work / "encoder");
  const std::vector<float> centres = random_centres(1000);
  const std::vector<float> queries = synthetic(batch_queries, 2, centres);
  const auto t0 = Clock::now();
  json rows = json::array();
  for (int64_t n : sizes) {
    const std::vector<float> base = synthetic(n, 3, centres);
    std::vector<std::vector<int64_t>> exact;
    std::vector<std::string> factories = {"Flat", "HNSW32"};
    if (n >= 1000000) factories.push_back("IVF1024,Flat");
    for (const auto& factory : factories) {
      // Exhaustive search over 1M vectors costs ~0.1 s a query: few single queries there.
      const int64_t singles = factory == "Flat" && n >= 1000000 ? 10 : single_count;
      rows.push_back(run({n, factory}, base, queries, batch_queries, singles, encoder, work, exact));
    }
  }
  fs::remove_all(work);
  const json results = {{"benchmark", "faiss_speed"},
                        {"machine", {{"hardware_threads", std::thread::hardware_concurrency()}}},
                        {"setup",
                         {{"dimension", kDim},
                          {"data", "synthetic: 1000 Gaussian centres + equal-norm noise, L2-normalised, inner product"},
                          {"k", kTopK},
                          {"batch_queries", batch_queries},
                          {"search_breadth", "HNSW efSearch 128, IVF nprobe 32 (raw and ours)"},
                          {"batch_search", "all queries in one call, OpenMP threads as set; best of 3, paths taking turns"},
                          {"single_search", "one query per call on one OpenMP thread, paths taking turns"},
                          {"ours_build", "Index::add_encoded (docstore rows + FAISS add) + commit (file, fsync, manifest)"},
                          {"retriever", "dense mode, k=10 documents from max(100, 4k) candidate passages"}}},
                        {"rows", rows},
                        {"total_seconds", seconds_since(t0)}};
  std::ofstream(out_path) << results.dump(2) << "\n";

  std::cout << "| vectors | index | raw build vec/s | ours build vec/s | raw QPS | ours QPS | retriever QPS |"
               " raw 1-query ms | ours 1-query ms | retriever 1-query ms | recall@10 |\n"
            << "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : rows)
    std::cout << "| " << r["vectors"].get<int64_t>() << " | " << r["factory"].get<std::string>() << " | "
              << fixed(r["raw_build"]["per_second"], 0) << " | " << fixed(r["ours_build"]["per_second"], 0) << " | "
              << fixed(r["raw_batch_search"]["per_second"], 0) << " | "
              << fixed(r["ours_batch_search"]["per_second"], 0) << " | "
              << fixed(r["retriever_batch_search"]["per_second"], 0) << " | "
              << fixed(r["raw_single_search"]["median_ms"], 3) << " | "
              << fixed(r["ours_single_search"]["median_ms"], 3) << " | "
              << fixed(r["retriever_single_search"]["median_ms"], 3) << " | "
              << fixed(r["ours_recall_at_10"], 3) << " |\n";
  std::cout << "wrote " << out_path << " (" << fixed(seconds_since(t0), 0) << " s)\n";
  return 0;
}
