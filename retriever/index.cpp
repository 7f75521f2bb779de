// The index directory: manifest, docstore and dense vectors kept consistent (see index.h).
#include "longqa/index.h"

#include <ATen/core/Tensor.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "longqa/common/atomic_file.h"
#include "longqa/common/errors.h"
#include "longqa/text_encoder.h"
#include "longqa/tokenizer.h"

namespace longqa::retriever {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kManifestName = "index.json";
constexpr const char* kDocstoreName = "docstore.sqlite";
constexpr const char* kLockName = "write.lock";
constexpr const char* kFormat = "longqa-index";

std::string now_utc() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string dense_file_name(int64_t generation) {
  char name[40];
  std::snprintf(name, sizeof(name), "dense-%06lld.faiss", static_cast<long long>(generation));
  return name;
}

// The generation in a "dense-<g>.faiss" name, or -1.
int64_t dense_file_generation(const std::string& name) {
  if (name.rfind("dense-", 0) != 0 || name.size() <= 12 || name.compare(name.size() - 6, 6, ".faiss") != 0) return -1;
  const std::string digits = name.substr(6, name.size() - 12);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

// A field of the manifest by dotted path; errors name the file and the field.
template <typename T>
T field(const json& root, const std::string& dotted, const std::string& file) {
  const json* node = &root;
  for (size_t begin = 0; begin <= dotted.size();) {
    const size_t end = std::min(dotted.find('.', begin), dotted.size());
    const std::string key = dotted.substr(begin, end - begin);
    if (!node->is_object() || !node->contains(key)) throw FileFormatError(file, "field '" + dotted + "' is missing");
    node = &(*node)[key];
    begin = end + 1;
  }
  try {
    return node->get<T>();
  } catch (const json::exception&) {
    throw FileFormatError(file, "field '" + dotted + "' has the wrong type (" + node->type_name() + ")");
  }
}

std::string short_id(const std::string& id) { return id.size() > 16 ? id.substr(0, 16) + "…" : id; }

}  // namespace

// ---------------------------------------------------------------------------------------
// Manifest

Manifest Manifest::read(const std::string& dir) {
  const std::string file = (fs::path(dir) / kManifestName).string();
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw FileFormatError(file, std::string("cannot open") +
                                    (fs::exists(dir) ? " (not an index, or its creation was interrupted)" : ""));
  }
  std::stringstream text;
  text << in.rdbuf();
  json root;
  try {
    root = json::parse(text.str());
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double
    throw FileFormatError(file, "not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!root.is_object() || root.value("format", "") != kFormat)
    throw FileFormatError(file, std::string("not a longqa index manifest (no \"format\": \"") + kFormat + "\")");
  const int64_t version = field<int64_t>(root, "format_version", file);
  if (version != kFormatVersion)
    throw FileFormatError(file, "format version " + std::to_string(version) + "; this build reads version " +
                                    std::to_string(kFormatVersion));
  Manifest m;
  m.generation = field<int64_t>(root, "generation", file);
  m.created = field<std::string>(root, "created", file);
  m.updated = field<std::string>(root, "updated", file);
  m.encoder_id = field<std::string>(root, "encoder.id", file);
  m.encoder_path = field<std::string>(root, "encoder.path", file);
  m.dimension = field<int64_t>(root, "encoder.dimension", file);
  m.options.encoder_path = m.encoder_path;
  m.options.factory = field<std::string>(root, "dense.factory", file);
  m.dense_file = field<std::string>(root, "dense.file", file);
  m.dense_digest.bytes = field<uint64_t>(root, "dense.bytes", file);
  m.dense_digest.checksum = field<std::string>(root, "dense.checksum", file);
  m.dense_vectors = field<int64_t>(root, "dense.vectors", file);
  try {
    m.options.bm25 = parse_bm25_tokenization(field<std::string>(root, "bm25.tokenization", file));
  } catch (const std::invalid_argument& e) {
    throw FileFormatError(file, std::string("field 'bm25.tokenization': ") + e.what());
  }
  m.options.passage_tokens = field<int64_t>(root, "passages.tokens", file);
  m.options.passage_overlap = field<int64_t>(root, "passages.overlap", file);
  m.documents = field<int64_t>(root, "counts.documents", file);
  m.passages = field<int64_t>(root, "counts.passages", file);
  if (m.generation < 1 || m.dimension < 1 || m.dense_file.find('/') != std::string::npos || m.dense_file.empty())
    throw FileFormatError(file, "inconsistent values (generation, dimension or dense.file)");
  return m;
}

std::string Manifest::to_json() const {
  const json root = {
      {"format", kFormat},
      {"format_version", kFormatVersion},
      {"generation", generation},
      {"created", created},
      {"updated", updated},
      {"encoder", {{"id", encoder_id}, {"path", encoder_path}, {"dimension", dimension}}},
      {"dense",
       {{"factory", options.factory},
        {"metric", "inner_product"},
        {"file", dense_file},
        {"bytes", dense_digest.bytes},
        {"checksum", dense_digest.checksum},
        {"vectors", dense_vectors}}},
      {"bm25", {{"tokenization", to_string(options.bm25)}}},
      {"passages", {{"tokens", options.passage_tokens}, {"overlap", options.passage_overlap}}},
      {"docstore", {{"file", kDocstoreName}}},
      {"counts", {{"documents", documents}, {"passages", passages}}},
  };
  return root.dump(2) + "\n";
}

// ---------------------------------------------------------------------------------------
// Index

// An exclusive flock on dir/write.lock; the kernel drops it when the process dies.
struct Index::Lock {
  explicit Lock(const std::string& dir) {
    const std::string path = (fs::path(dir) / kLockName).string();
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error(path + ": cannot open the lock file: " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      throw std::runtime_error(dir + ": another process is writing this index");
    }
  }
  ~Lock() { ::close(fd); }
  int fd;
};

Index::Index(std::string dir, std::shared_ptr<const TextEncoder> encoder, Manifest manifest, Docstore docstore,
             DenseIndex dense, std::unique_ptr<Lock> lock)
    : dir_(std::move(dir)),
      encoder_(std::move(encoder)),
      manifest_(std::move(manifest)),
      docstore_(std::move(docstore)),
      dense_(std::move(dense)),
      lock_(std::move(lock)),
      write_mutex_(std::make_unique<std::mutex>()),
      dense_mutex_(std::make_unique<std::shared_mutex>()) {}

Index::Index(Index&&) noexcept = default;
Index& Index::operator=(Index&&) noexcept = default;
Index::~Index() = default;

Index Index::create(const std::string& dir, std::shared_ptr<const TextEncoder> encoder, const IndexOptions& options) {
  if (!encoder) throw std::invalid_argument("Index::create: no encoder");
  if (options.passage_tokens <= 0 || options.passage_overlap < 0 || options.passage_overlap >= options.passage_tokens)
    throw std::invalid_argument("passage window: need tokens > 0 and 0 <= overlap < tokens, got " +
                                std::to_string(options.passage_tokens) + " and " +
                                std::to_string(options.passage_overlap));
  DenseIndex dense(encoder->dimension(), options.factory);  // a bad factory string fails before any file
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
    throw std::runtime_error(dir + ": exists and is not empty; an index is created in a new folder");
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir + ": cannot create folder: " + ec.message());
  auto lock = std::make_unique<Lock>(dir);
  Docstore docstore = Docstore::create((fs::path(dir) / kDocstoreName).string(), options.bm25, &encoder->tokenizer());
  Manifest manifest;
  manifest.created = now_utc();
  manifest.encoder_id = encoder->id();
  manifest.encoder_path = options.encoder_path;
  manifest.dimension = encoder->dimension();
  manifest.options = options;
  Index index(dir, std::move(encoder), std::move(manifest), std::move(docstore), std::move(dense), std::move(lock));
  index.commit();
  return index;
}

Index Index::open(const std::string& dir, std::shared_ptr<const TextEncoder> encoder, OpenMode mode) {
  if (!encoder) throw std::invalid_argument("Index::open: no encoder");
  const bool writable = mode == OpenMode::kReadWrite;
  auto lock = writable ? std::make_unique<Lock>(dir) : nullptr;
  Manifest manifest = Manifest::read(dir);
  if (manifest.encoder_id != encoder->id())
    throw std::runtime_error(dir + ": the index was built with another encoder (id " + short_id(manifest.encoder_id) +
                             (manifest.encoder_path.empty() ? "" : ", from " + manifest.encoder_path) +
                             "), not this one (id " + short_id(encoder->id()) +
                             "); use that encoder, or build a new index with this one");
  if (manifest.dimension != encoder->dimension())
    throw std::runtime_error(dir + ": the index holds " + std::to_string(manifest.dimension) +
                             "-dimensional vectors, the encoder makes " + std::to_string(encoder->dimension()));
  Docstore docstore = Docstore::open((fs::path(dir) / kDocstoreName).string(), !writable, &encoder->tokenizer());
  DenseIndex dense = DenseIndex::load((fs::path(dir) / manifest.dense_file).string(), manifest.options.factory,
                                      manifest.dense_digest);
  if (dense.dimension() != manifest.dimension)
    throw std::runtime_error(dir + "/" + manifest.dense_file + ": holds " + std::to_string(dense.dimension()) +
                             "-dimensional vectors, the manifest says " + std::to_string(manifest.dimension));
  Index index(dir, std::move(encoder), std::move(manifest), std::move(docstore), std::move(dense), std::move(lock));
  index.reconcile(writable);
  return index;
}

void Index::reconcile(bool repair) {
  // A BM25 rebuild commits in the docstore before the manifest follows.
  const bool bm25_changed = docstore_.tokenization() != manifest_.options.bm25;
  manifest_.options.bm25 = docstore_.tokenization();
  const std::vector<int64_t> stored = docstore_.passage_ids();  // ascending
  std::vector<int64_t> dense_ids = dense_.ids();
  std::sort(dense_ids.begin(), dense_ids.end());
  std::vector<int64_t> extra, missing;
  std::set_difference(dense_ids.begin(), dense_ids.end(), stored.begin(), stored.end(), std::back_inserter(extra));
  std::set_difference(stored.begin(), stored.end(), dense_ids.begin(), dense_ids.end(), std::back_inserter(missing));
  dense_.remove(extra);
  open_report_.dropped = static_cast<int64_t>(extra.size());
  if (!repair) {
    open_report_.missing = static_cast<int64_t>(missing.size());
    return;
  }
  for (size_t begin = 0; begin < missing.size(); begin += kPassagesPerEncode) {
    const std::vector<int64_t> chunk(missing.begin() + static_cast<int64_t>(begin),
                                     missing.begin() + static_cast<int64_t>(std::min(missing.size(), begin + kPassagesPerEncode)));
    std::vector<int64_t> ids;
    std::vector<std::string> inputs;
    for (auto& [id, input] : docstore_.passage_inputs(chunk)) {
      ids.push_back(id);
      inputs.push_back(std::move(input));
    }
    encode_into_dense(ids, inputs);
  }
  open_report_.reencoded = static_cast<int64_t>(missing.size());
  // A generation also goes out when an earlier writer died before its commit: the manifest's
  // counts then catch up with the docstore.
  if (bm25_changed || !extra.empty() || !missing.empty() || manifest_.documents != docstore_.document_count() ||
      manifest_.passages != static_cast<int64_t>(stored.size()))
    commit();
}

void Index::require_writable(const char* what) const {
  if (!lock_) throw std::logic_error(dir_ + ": " + what + " needs the index opened for writing");
}

void Index::encode_into_dense(const std::vector<int64_t>& ids, const std::vector<std::string>& inputs) {
  if (ids.empty()) return;
  const at::Tensor vectors = encoder_->encode(inputs).contiguous();
  std::unique_lock<std::shared_mutex> lock(*dense_mutex_);
  dense_.add(ids, vectors.data_ptr<float>());
}

Index::AddResult Index::add_encoded(std::vector<DocumentPassages> items, const float* vectors) {
  require_writable("add");
  std::lock_guard<std::mutex> writing(*write_mutex_);
  const Docstore::AddResult stored = docstore_.add(items);
  // A document given twice in one call replaces its own first copy: those passages are gone.
  const std::unordered_set<int64_t> replaced(stored.replaced_passage_ids.begin(), stored.replaced_passage_ids.end());
  std::vector<int64_t> ids;
  std::vector<float> kept;
  const int64_t d = encoder_->dimension();
  int64_t row = 0;
  for (const auto& doc_ids : stored.passage_ids) {
    for (int64_t id : doc_ids) {
      const float* v = vectors + row++ * d;
      if (replaced.count(id)) continue;
      ids.push_back(id);
      kept.insert(kept.end(), v, v + d);
    }
  }
  {
    std::unique_lock<std::shared_mutex> lock(*dense_mutex_);
    dense_.remove(stored.replaced_passage_ids);
    dense_.add(ids, kept.data());
  }
  AddResult result;
  result.documents = static_cast<int64_t>(items.size());
  result.replaced = stored.replaced_documents;
  result.passages = row;
  return result;
}

Index::RemoveResult Index::remove(const std::vector<std::string>& ids) {
  require_writable("remove");
  std::lock_guard<std::mutex> writing(*write_mutex_);
  Docstore::RemoveResult removed = docstore_.remove(ids);
  {
    std::unique_lock<std::shared_mutex> lock(*dense_mutex_);
    dense_.remove(removed.passage_ids);
  }
  RemoveResult result;
  result.documents = static_cast<int64_t>(ids.size() - removed.missing.size());
  result.passages = static_cast<int64_t>(removed.passage_ids.size());
  result.missing = std::move(removed.missing);
  return result;
}

void Index::set_bm25_tokenization(Bm25Tokenization tokenization) {
  require_writable("changing the BM25 tokenization");
  {
    std::lock_guard<std::mutex> writing(*write_mutex_);
    docstore_.rebuild_bm25(tokenization, &encoder_->tokenizer());
    manifest_.options.bm25 = tokenization;
  }
  commit();
}

void Index::commit() {
  require_writable("commit");
  std::lock_guard<std::mutex> writing(*write_mutex_);
  {
    std::unique_lock<std::shared_mutex> lock(*dense_mutex_);
    dense_.train_pending();
  }
  Manifest next = manifest_;
  next.generation = manifest_.generation + 1;
  next.dense_file = dense_file_name(next.generation);
  {
    std::shared_lock<std::shared_mutex> lock(*dense_mutex_);
    next.dense_digest = dense_.save((fs::path(dir_) / next.dense_file).string());
    next.dense_vectors = dense_.stored();
  }
  next.documents = docstore_.document_count();
  next.passages = docstore_.passage_count();
  next.updated = now_utc();
  write_file_atomic((fs::path(dir_) / kManifestName).string(), next.to_json());
  manifest_ = std::move(next);
  // Readers that opened the previous generation may still be loading it: it stays one more commit.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    const int64_t generation = dense_file_generation(name);
    // Temporary files of writes that died (AtomicFile's "<name>.tmp.<pid>"; ".tmp" of older builds).
    const bool temp = name.find(".tmp.") != std::string::npos ||
                      (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0);
    if ((generation >= 0 && generation < manifest_.generation - 1) || temp)
      fs::remove(entry.path(), ec);
  }
}

std::vector<std::vector<ScoredId>> Index::dense_search(const float* queries, int64_t n, int64_t k) const {
  std::shared_lock<std::shared_mutex> lock(*dense_mutex_);
  return dense_.search(queries, n, k);
}

std::vector<ScoredId> Index::bm25_search(const std::string& query, int64_t k) const { return docstore_.bm25(query, k); }

std::vector<StoredPassage> Index::passages(const std::vector<int64_t>& ids, bool with_text) const {
  return docstore_.passages(ids, with_text);
}

std::optional<Document> Index::document(const std::string& id) const { return docstore_.document(id); }

std::vector<StoredPassage> Index::document_passages(const std::string& id, bool with_text) const {
  return docstore_.document_passages(id, with_text);
}

Index::Stats Index::stats() const {
  Stats s;
  s.documents = docstore_.document_count();
  s.passages = docstore_.passage_count();
  std::shared_lock<std::shared_mutex> lock(*dense_mutex_);
  s.dense_vectors = dense_.size();
  s.dense_deleted = dense_.deleted();
  s.dense_pending = dense_.pending();
  return s;
}

std::vector<std::string> Index::document_ids(const std::string& after, int64_t limit) const {
  return docstore_.document_ids(after, limit);
}

std::vector<float> Index::passage_vectors(const std::vector<int64_t>& ids) const {
  std::shared_lock<std::shared_mutex> lock(*dense_mutex_);
  return dense_.reconstruct(ids);
}

StoreInfo Index::info() const {
  StoreInfo info;
  std::lock_guard<std::mutex> writing(*write_mutex_);  // the manifest changes with commits
  info.backend = "embedded";
  info.location = dir_;
  info.encoder_id = manifest_.encoder_id;
  info.encoder_path = manifest_.encoder_path;
  info.dimension = manifest_.dimension;
  info.options = manifest_.options;
  info.dense = manifest_.options.factory;
  info.lexical = "fts5 " + to_string(manifest_.options.bm25);
  info.generation = manifest_.generation;
  info.created = manifest_.created;
  info.updated = manifest_.updated;
  return info;
}

void Index::set_search_breadth(int64_t breadth) {
  std::unique_lock<std::shared_mutex> lock(*dense_mutex_);
  dense_.set_search_breadth(breadth);
}

}  // namespace longqa::retriever
