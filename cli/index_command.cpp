// longqa index build|add|delete|info|repair|export|import: thin commands over retriever::Store
// (an index directory, or a PostgreSQL store named by a postgresql:// connection string).
#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "longqa/common/progress.h"
#include "longqa/common/stopwatch.h"
#include "longqa/index.h"
#include "longqa/postgres_store.h"
#include "longqa/text_encoder.h"

namespace longqa::cli {
namespace {

namespace fs = std::filesystem;
using namespace longqa::retriever;

// Takes `--name V1 V2 ...` (values up to the next --option) and `--name=V` out of argv: the
// values of options that accept many.
std::vector<std::string> take_list(Argv& argv, const std::string& name) {
  std::vector<std::string> values;
  Argv rest;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i].rfind("--" + name + "=", 0) == 0) {
      values.push_back(argv[i].substr(name.size() + 3));
    } else if (argv[i] == "--" + name) {
      while (i + 1 < argv.size() && argv[i + 1].rfind("--", 0) != 0) values.push_back(argv[++i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  argv = std::move(rest);
  return values;
}

void add_ingest_options(Args& args) {
  args.option("corpus", "corpus files or folders, one or more (.jsonl, .json SQuAD/KorQuAD, .txt, .md, .html)")
      .option("unit", "SQuAD/KorQuAD 1.0 JSON: each paragraph or each whole article is a document (paragraph|article)",
              "paragraph")
      .option("batch", "documents encoded and stored per transaction", "64")
      .flag("strict", "stop at the first bad record instead of reporting and skipping it");
}

std::shared_ptr<const TextEncoder> load_encoder(const std::string& dir) {
  return std::make_shared<const TextEncoder>(TextEncoder::load(dir));
}

constexpr const char* kLocationHelp = "index directory, or a postgresql:// connection string (the PostgreSQL store)";

// The encoder given with --encoder, else the one the index records.
std::shared_ptr<const TextEncoder> index_encoder(const Args& args, const std::string& location) {
  if (args.is_set("encoder")) return load_encoder(args.get("encoder"));
  const std::string recorded = recorded_encoder_path(location);
  if (recorded.empty())
    throw std::invalid_argument(redact_connection_string(location) + ": the index records no encoder path; give --encoder");
  return load_encoder(recorded);
}

// What to ingest, checked and counted before any index is touched.
struct IngestPlan {
  std::vector<std::string> paths;
  IngestOptions options;
  int64_t batch_size = 0;
  int64_t total = 0;  // documents the corpus holds
  Stopwatch clock;
};

// A first pass counts the documents, for the percentage and the ETA (parsing is cheap next to
// encoding); with --strict it also stops on a bad record before anything is written.
IngestPlan plan_ingest(std::vector<std::string> paths, const Args& args) {
  if (paths.empty()) throw std::invalid_argument("--corpus needs at least one file or folder");
  IngestPlan plan;
  plan.paths = std::move(paths);
  const std::string unit = args.get("unit");
  if (unit != "paragraph" && unit != "article")
    throw std::invalid_argument("--unit must be paragraph or article, got '" + unit + "'");
  plan.options.squad_unit = unit == "article" ? SquadUnit::kArticle : SquadUnit::kParagraph;
  plan.options.fail_on_error = args.is_set("strict");
  plan.batch_size = args.get_int("batch");
  if (plan.batch_size <= 0) throw std::invalid_argument("--batch must be positive");
  ingest(plan.paths, plan.options, [&](Document&&) { ++plan.total; }, [](const IngestError&) {});
  return plan;
}

// Ingests into the index in batches with a progress bar, then commits. Returns the exit code:
// 0, also when bad records were skipped (the summary counts them).
int ingest_into(Store& index, const IngestPlan& plan) {
  Progress progress("documents", plan.total);
  int64_t documents = 0, passages = 0, replaced = 0, bad = 0;
  std::vector<Document> batch;
  auto flush = [&] {
    if (batch.empty()) return;
    const auto added = index.add(std::move(batch));
    batch.clear();
    documents += added.documents;
    passages += added.passages;
    replaced += added.replaced;
    progress.update(documents, std::to_string(passages) + " passages");
  };
  ingest(
      plan.paths, plan.options,
      [&](Document&& doc) {
        batch.push_back(std::move(doc));
        if (static_cast<int64_t>(batch.size()) >= plan.batch_size) flush();
      },
      [&](const IngestError& e) {
        progress.clear();
        std::cerr << "skipped " << e.source << ": " << e.message << "\n";
        ++bad;
      });
  flush();
  progress.finish(documents, std::to_string(passages) + " passages");
  index.commit();

  const double elapsed = plan.clock.seconds();
  const auto stats = index.stats();
  std::cout << "indexed " << documents << " documents (" << passages << " passages) in " << std::fixed
            << std::setprecision(1) << elapsed << " s: " << static_cast<double>(documents) / std::max(elapsed, 1e-9)
            << " documents/s, " << static_cast<double>(passages) / std::max(elapsed, 1e-9) << " passages/s\n";
  if (replaced) std::cout << replaced << " of them replaced a stored document with the same id\n";
  if (bad) std::cout << bad << " bad records skipped (listed above)\n";
  const StoreInfo info = index.info();
  std::cout << "index " << info.location << ": " << stats.documents << " documents, " << stats.passages << " passages";
  if (info.backend == "embedded") std::cout << ", generation " << info.generation;
  std::cout << "\n";
  if (stats.dense_pending)
    std::cout << "warning: " << info.dense << " cannot train on " << stats.dense_pending
              << " vectors (an IVF index needs at least one per list): dense search finds nothing until more "
                 "documents are added\n";
  return 0;
}

int build(Argv argv) {
  const std::vector<std::string> corpus = take_list(argv, "corpus");
  Args args("index build", "Builds a new index (docstore with BM25, dense vectors in FAISS, manifest) from corpus "
                           "files. Bad records are reported with file:line and skipped.");
  add_ingest_options(args);
  args.option("encoder", "text encoder model directory (e.g. a sentence-transformers model)")
      .option("out", "new index directory (must not exist or be empty), or a postgresql:// connection string to a "
                     "database (or schema, via options=-csearch_path) with no longqa tables yet")
      .alias("store", "out")
      .option("factory", "FAISS factory string: Flat, HNSW32, IVF1024,Flat, IVF4096,PQ64, ... (embedded store; "
                         "PostgreSQL uses pgvector's HNSW)", "Flat")
      .option("bm25", "lexical terms: wordpiece (the encoder's pieces; PostgreSQL: English full text) or trigram "
                      "(any language; PostgreSQL: pg_trgm)", "wordpiece")
      .option("passage-tokens", "passage length in encoder tokens", "256")
      .option("passage-overlap", "tokens shared by consecutive passages", "32");
  if (!args.parse(argv)) return 0;
  IndexOptions options;
  options.factory = args.get("factory");
  options.bm25 = parse_bm25_tokenization(args.get("bm25"));
  options.passage_tokens = args.get_int("passage-tokens");
  options.passage_overlap = args.get_int("passage-overlap");
  options.encoder_path = fs::absolute(args.get("encoder")).string();
  const IngestPlan plan = plan_ingest(corpus, args);
  const auto index = create_store(args.get("out"), load_encoder(options.encoder_path), options);
  return ingest_into(*index, plan);
}

int add(Argv argv) {
  const std::vector<std::string> corpus = take_list(argv, "corpus");
  Args args("index add", "Adds documents to an index without a rebuild; a document whose id is stored replaces it.");
  args.option("index", kLocationHelp).alias("store", "index")
      .option("encoder", "encoder directory (default: the one the index records)");
  add_ingest_options(args);
  if (!args.parse(argv)) return 0;
  const std::string dir = args.get("index");
  const IngestPlan plan = plan_ingest(corpus, args);
  const auto index = open_store(dir, index_encoder(args, dir), OpenMode::kReadWrite);
  return ingest_into(*index, plan);
}

int remove(Argv argv) {
  const std::vector<std::string> ids = take_list(argv, "id");
  Args args("index delete", "Deletes documents by id without a rebuild.");
  args.option("index", kLocationHelp).alias("store", "index")
      .option("id", "document ids, one or more")
      .option("encoder", "encoder directory (default: the one the index records)");
  if (!args.parse(argv)) return 0;
  if (ids.empty()) throw std::invalid_argument("--id needs at least one document id");
  const std::string dir = args.get("index");
  const auto index = open_store(dir, index_encoder(args, dir), OpenMode::kReadWrite);
  const auto removed = index->remove(ids);
  index->commit();
  std::cout << "deleted " << removed.documents << " documents (" << removed.passages << " passages)\n";
  if (!removed.missing.empty()) {
    std::cerr << "not in the index:";
    for (const auto& id : removed.missing) std::cerr << " " << id;
    std::cerr << "\n";
    return 1;
  }
  return 0;
}

// index info|repair of a PostgreSQL store: every write is already committed, so there is
// nothing to repair; info shows what open() checked and the counts.
int postgres_info(const Args& args, const std::string& location, bool repair) {
  const auto store = open_store(location, index_encoder(args, location));
  const StoreInfo info = store->info();
  const auto stats = store->stats();
  if (repair) {
    std::cout << info.location << ": a PostgreSQL store commits every write; nothing to repair\n";
    return 0;
  }
  if (args.is_set("json")) {
    nlohmann::json out = {{"backend", info.backend},     {"location", info.location},
                          {"encoder_id", info.encoder_id}, {"encoder_path", info.encoder_path},
                          {"dimension", info.dimension}, {"dense", info.dense},
                          {"lexical", info.lexical},     {"created", info.created},
                          {"passage_tokens", info.options.passage_tokens},
                          {"passage_overlap", info.options.passage_overlap},
                          {"stats", {{"documents", stats.documents}, {"passages", stats.passages},
                                     {"dense_vectors", stats.dense_vectors}}}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "store        " << info.location << " (PostgreSQL, created " << info.created << ")\n"
            << "encoder      " << info.encoder_path << " (id " << info.encoder_id << ", " << info.dimension
            << " dimensions)\n"
            << "dense        " << info.dense << ", " << stats.dense_vectors << " vectors\n"
            << "lexical      " << info.lexical << "\n"
            << "passages     " << info.options.passage_tokens << " tokens, overlap " << info.options.passage_overlap
            << "\n"
            << "documents    " << stats.documents << "\n"
            << "passages     " << stats.passages << "\n";
  return 0;
}

int export_command(Argv argv) {
  Args args("index export", "Writes every document of an index, with its passages and (when the store keeps them "
                            "exactly) their vectors, to a new folder that `index import` reads: the way from the "
                            "embedded store to PostgreSQL and back.");
  args.option("index", kLocationHelp).alias("store", "index")
      .option("out", "new export folder (must not exist or be empty)")
      .option("encoder", "encoder directory (default: the one the index records)");
  if (!args.parse(argv)) return 0;
  const std::string location = args.get("index");
  const auto store = open_store(location, index_encoder(args, location));
  const int64_t total = store->stats().documents;
  Progress progress("documents", total);
  const ExportSummary summary =
      export_store(*store, args.get("out"), [&](int64_t documents, int64_t passages) {
        progress.update(documents, std::to_string(passages) + " passages");
      });
  progress.finish(summary.documents, std::to_string(summary.passages) + " passages");
  std::cout << "exported " << summary.documents << " documents (" << summary.passages << " passages"
            << (summary.vectors ? ", with their vectors" : "; no exact vectors in this index: import re-encodes")
            << ") to " << args.get("out") << "\n";
  return 0;
}

int import_command(Argv argv) {
  Args args("index import", "Adds the documents of an `index export` folder to an index, creating it when it "
                            "does not exist yet (with the export's passage settings). The exported vectors are "
                            "used when the encoder and passage settings match; otherwise documents are encoded again.");
  args.option("index", kLocationHelp).alias("store", "index")
      .option("from", "export folder (`longqa index export`)")
      .option("encoder", "encoder directory (default: the one the index or the export records)")
      .option("factory", "FAISS factory of a new embedded index", "Flat")
      .option("batch", "documents per transaction", "64");
  if (!args.parse(argv)) return 0;
  const std::string location = args.get("index");
  const ExportHeader header = read_export_header(args.get("from"));
  const bool exists = is_postgres_location(location) ? [&] {
    try {
      recorded_encoder_path(location);
      return true;
    } catch (const std::invalid_argument&) {
      return false;  // no longqa tables there yet
    }
  }()
                                                      : fs::exists(fs::path(location) / "index.json");
  std::unique_ptr<Store> store;
  if (exists) {
    store = open_store(location, index_encoder(args, location), OpenMode::kReadWrite);
  } else {
    IndexOptions options = header.options;
    options.factory = args.get("factory");
    const std::string encoder = args.is_set("encoder") ? args.get("encoder") : header.encoder_path;
    if (encoder.empty()) throw std::invalid_argument("the export records no encoder path; give --encoder");
    options.encoder_path = fs::absolute(encoder).string();
    store = create_store(location, load_encoder(options.encoder_path), options);
  }
  Progress progress("documents", header.documents);
  const ImportSummary summary =
      import_store(*store, args.get("from"), args.get_int("batch"), [&](int64_t documents, int64_t passages) {
        progress.update(documents, std::to_string(passages) + " passages");
      });
  progress.finish(summary.documents, std::to_string(summary.passages) + " passages");
  std::cout << "imported " << summary.documents << " documents (" << summary.passages << " passages"
            << (summary.reencoded ? ", encoded again" : ", with the exported vectors") << ") into "
            << store->info().location << "\n";
  return 0;
}

int info(Argv argv, bool repair) {
  Args args(repair ? "index repair" : "index info",
            repair ? "Opens an index for writing, which re-encodes passages missing from the dense index "
                     "(left by an interrupted write) and drops vectors of deleted passages, then commits."
                   : "Shows an index's manifest and counts, after checking its files.");
  args.option("index", kLocationHelp).alias("store", "index")
      .option("encoder", "encoder directory (default: the one the index records)");
  if (!repair) args.flag("json", "print JSON");
  if (!args.parse(argv)) return 0;
  const std::string dir = args.get("index");
  if (is_postgres_location(dir)) return postgres_info(args, dir, repair);
  const Index index = Index::open(dir, index_encoder(args, dir), repair ? OpenMode::kReadWrite : OpenMode::kReadOnly);
  const auto& report = index.open_report();
  if (repair) {
    std::cout << "re-encoded " << report.reencoded << " passages, dropped " << report.dropped
              << " stale vectors; generation " << index.manifest().generation << "\n";
    return 0;
  }
  const Manifest& m = index.manifest();
  const auto stats = index.stats();
  uint64_t bytes = 0;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file()) bytes += entry.file_size();
  if (args.is_set("json")) {
    nlohmann::json out = nlohmann::json::parse(m.to_json());
    out["stats"] = {{"documents", stats.documents},         {"passages", stats.passages},
                    {"dense_vectors", stats.dense_vectors}, {"dense_deleted", stats.dense_deleted},
                    {"missing_from_dense", report.missing}, {"bytes_on_disk", bytes}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "index        " << dir << " (" << std::fixed << std::setprecision(1)
            << static_cast<double>(bytes) / (1 << 20) << " MiB)\n"
            << "generation   " << m.generation << " (created " << m.created << ", updated " << m.updated << ")\n"
            << "encoder      " << m.encoder_path << " (id " << m.encoder_id << ", " << m.dimension << " dimensions)\n"
            << "dense        " << m.options.factory << ", inner product, " << stats.dense_vectors << " vectors";
  if (stats.dense_deleted) std::cout << " (+" << stats.dense_deleted << " deleted, filtered at search until a rebuild)";
  std::cout << "\n"
            << "bm25         " << to_string(m.options.bm25) << "\n"
            << "passages     " << m.options.passage_tokens << " tokens, overlap " << m.options.passage_overlap << "\n"
            << "documents    " << stats.documents << "\n"
            << "passages     " << stats.passages << "\n";
  if (report.missing)
    std::cout << "warning: " << report.missing << " passages are not in the dense index (an interrupted write, "
              << "or an IVF index still too small to train); `longqa index repair --index " << dir
              << "` adds what it can\n";
  return 0;
}

const char* kUsage = R"(usage: longqa index SUBCOMMAND [options]

subcommands:
  build    build a new index from corpus files
  add      add (or replace) documents in an index
  delete   delete documents by id
  info     show an index's manifest and counts
  repair   re-encode passages an interrupted write left out of the dense index
  export   write an index's documents, passages and vectors to a folder
  import   add an export's documents to an index (embedded or PostgreSQL)

An index is a directory (the embedded store: SQLite + FAISS) or a PostgreSQL database named by
a postgresql:// connection string (--index or --store; `build` takes it as --out or --store).

Run `longqa index SUBCOMMAND --help` for the options of each.
)";

}  // namespace

int index_command(const Argv& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
    std::cout << kUsage;
    return argv.empty() ? 2 : 0;
  }
  const Argv rest(argv.begin() + 1, argv.end());
  if (argv[0] == "build") return build(rest);
  if (argv[0] == "add") return add(rest);
  if (argv[0] == "delete") return remove(rest);
  if (argv[0] == "info") return info(rest, false);
  if (argv[0] == "repair") return info(rest, true);
  if (argv[0] == "export") return export_command(rest);
  if (argv[0] == "import") return import_command(rest);
  throw std::invalid_argument("unknown subcommand '" + argv[0] + "'\n\n" + kUsage);
}

}  // namespace longqa::cli
