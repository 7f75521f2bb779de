// FAISS behind ids, deletions, atomic files with checksums.
#include "longqa/dense_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexNSG.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <unordered_map>

#include "longqa/common/atomic_file.h"
#include "longqa/common/errors.h"

namespace longqa::retriever {
namespace {

namespace fs = std::filesystem;

std::string errno_text() { return std::strerror(errno); }

// A 64-bit hash of a byte stream, 32 bytes per step in four independent lanes so that it runs
// at memory speed (a byte-wise hash would take seconds on a large index file).
class WordHash {
 public:
  void update(const void* data, size_t size) {
    if (size == 0) return;  // FAISS writes empty arrays with a null pointer (memcpy must not see it)
    auto p = static_cast<const unsigned char*>(data);
    total_ += size;
    if (buffered_ > 0) {
      const size_t take = std::min(size, sizeof(buffer_) - buffered_);
      std::memcpy(buffer_ + buffered_, p, take);
      buffered_ += take, p += take, size -= take;
      if (buffered_ < sizeof(buffer_)) return;
      block(buffer_);
      buffered_ = 0;
    }
    for (; size >= sizeof(buffer_); p += sizeof(buffer_), size -= sizeof(buffer_)) block(p);
    std::memcpy(buffer_, p, size);
    buffered_ = size;
  }
  std::string hex() {
    std::memset(buffer_ + buffered_, 0, sizeof(buffer_) - buffered_);
    if (buffered_ > 0) block(buffer_);
    uint64_t h = total_ * kPrime;
    for (uint64_t lane : lanes_) h = mix(h ^ lane);
    char text[24];
    std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(h));
    return std::string("wh64:") + text;
  }

 private:
  static constexpr uint64_t kPrime = 0x9E3779B97F4A7C15ull;
  static uint64_t mix(uint64_t x) {
    x *= 0xff51afd7ed558ccdull;
    return x ^ (x >> 29);
  }
  void block(const unsigned char* p) {
    for (int i = 0; i < 4; ++i) {
      uint64_t w;
      std::memcpy(&w, p + 8 * i, 8);
      lanes_[i] = mix(lanes_[i] ^ w) + kPrime;
    }
  }
  uint64_t lanes_[4] = {1, 2, 3, 4};
  unsigned char buffer_[32];
  size_t buffered_ = 0;
  uint64_t total_ = 0;
};

// FAISS's writer interface over an AtomicFile, hashing what it writes.
struct HashingFileWriter : faiss::IOWriter {
  explicit HashingFileWriter(AtomicFile& out) : file(out) { name = out.path(); }
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    const size_t total = size * nitems;
    file.write(ptr, total);
    hash.update(ptr, total);
    bytes += total;
    return nitems;
  }
  AtomicFile& file;
  WordHash hash;
  uint64_t bytes = 0;
};

// IndexPreTransform (PCA, OPQ, ...) and ID maps around the index that does the work.
const faiss::Index* base_index(const faiss::Index* index) {
  for (;;) {
    if (auto m = dynamic_cast<const faiss::IndexIDMap*>(index)) {
      index = m->index;
    } else if (auto t = dynamic_cast<const faiss::IndexPreTransform*>(index)) {
      index = t->index;
    } else {
      return index;
    }
  }
}

const faiss::IndexIVF* find_ivf(const faiss::Index* index) { return dynamic_cast<const faiss::IndexIVF*>(base_index(index)); }

std::string faiss_message(const faiss::FaissException& e) {
  // FAISS messages carry "Error in <function> at <file>:<line>: " before what went wrong.
  const std::string what = e.what();
  const size_t colon = what.find(": ", what.find(" at "));
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

}  // namespace

FileDigest file_digest(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error(path + ": cannot open: " + errno_text());
  WordHash hash;
  FileDigest digest;
  std::vector<char> buffer(1 << 20);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string error = errno_text();
      ::close(fd);
      throw std::runtime_error(path + ": read failed: " + error);
    }
    if (n == 0) break;
    hash.update(buffer.data(), static_cast<size_t>(n));
    digest.bytes += static_cast<uint64_t>(n);
  }
  ::close(fd);
  digest.checksum = hash.hex();
  return digest;
}

DenseIndex::DenseIndex(int64_t dimension, const std::string& factory) : factory_(factory), dimension_(dimension) {
  if (dimension <= 0) throw std::invalid_argument("dense index: dimension must be positive, got " + std::to_string(dimension));
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::index_factory(static_cast<int>(dimension), factory.c_str(), faiss::METRIC_INNER_PRODUCT));
  } catch (const faiss::FaissException& e) {
    throw std::invalid_argument("dense index: bad FAISS factory string '" + factory + "': " + faiss_message(e));
  }
  if (!find_ivf(index.get()) && !dynamic_cast<faiss::IndexIDMap*>(index.get())) {
    auto map = std::make_unique<faiss::IndexIDMap2>(index.get());
    map->own_fields = true;
    index.release();
    index = std::move(map);
  }
  index_ = std::move(index);
  configure();
}

DenseIndex::DenseIndex(std::unique_ptr<faiss::Index> index, std::string factory)
    : index_(std::move(index)), factory_(std::move(factory)), dimension_(index_->d) {
  configure();
}

DenseIndex::DenseIndex(DenseIndex&&) noexcept = default;
DenseIndex& DenseIndex::operator=(DenseIndex&&) noexcept = default;
DenseIndex::~DenseIndex() = default;

void DenseIndex::configure() {
  const faiss::Index* base = base_index(index_.get());
  removes_in_place_ = !dynamic_cast<const faiss::IndexHNSW*>(base) && !dynamic_cast<const faiss::IndexNSG*>(base);
  const faiss::IndexIVF* ivf = find_ivf(index_.get());
  // FAISS's k-means wants 39 points per centroid; PQ codebooks 256 centroids each.
  train_target_ = ivf ? 39 * static_cast<int64_t>(ivf->nlist) : 39 * 256;
  set_search_breadth(ivf ? std::min<int64_t>(32, ivf->nlist) : 128);
}

void DenseIndex::set_search_breadth(int64_t breadth) {
  auto base = const_cast<faiss::Index*>(base_index(index_.get()));
  if (auto hnsw = dynamic_cast<faiss::IndexHNSW*>(base)) hnsw->hnsw.efSearch = static_cast<int>(breadth);
  if (auto ivf = dynamic_cast<faiss::IndexIVF*>(base)) ivf->nprobe = static_cast<size_t>(breadth);
}

DenseIndex DenseIndex::load(const std::string& path, const std::string& factory, const FileDigest& expected) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw FileFormatError(path, "dense index file is missing");
  const FileDigest actual = file_digest(path);
  if (actual.bytes != expected.bytes)
    throw FileFormatError(path, "dense index file is " + std::to_string(actual.bytes) +
                                    " bytes but the manifest records " + std::to_string(expected.bytes) +
                                    " (truncated or overwritten)");
  if (actual.checksum != expected.checksum)
    throw FileFormatError(path, "dense index file is damaged: checksum " + actual.checksum +
                                    " differs from the manifest's " + expected.checksum);
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::read_index(path.c_str()));
  } catch (const faiss::FaissException& e) {
    throw FileFormatError(path, "not a readable FAISS index: " + faiss_message(e));
  }
  return DenseIndex(std::move(index), factory);
}

FileDigest DenseIndex::save(const std::string& path) const {
  AtomicFile file(path);  // removed unless committed
  HashingFileWriter writer(file);
  try {
    faiss::write_index(index_.get(), &writer);
  } catch (const faiss::FaissException& e) {
    throw std::runtime_error(path + ": cannot write the FAISS index: " + faiss_message(e));
  }
  file.commit();
  return {writer.bytes, writer.hash.hex()};
}

void DenseIndex::add(const std::vector<int64_t>& ids, const float* vectors) {
  int64_t offset = 0;
  const auto n = static_cast<int64_t>(ids.size());
  if (!index_->is_trained) {
    // Held back: as many as training wants; the rest are added once it is done.
    offset = std::min(n, std::max<int64_t>(0, train_target_ - pending()));
    pending_ids_.insert(pending_ids_.end(), ids.begin(), ids.begin() + offset);
    pending_vectors_.insert(pending_vectors_.end(), vectors, vectors + offset * dimension_);
    if (pending() < train_target_) return;
    train_pending();
  }
  if (offset == n) return;
  try {
    index_->add_with_ids(n - offset, vectors + offset * dimension_, ids.data() + offset);
  } catch (const faiss::FaissException& e) {
    throw std::runtime_error("dense index (" + factory_ + "): cannot add vectors: " + faiss_message(e));
  }
}

bool DenseIndex::train_pending() {
  if (index_->is_trained) return true;
  if (pending_ids_.empty()) return false;
  try {
    index_->train(pending(), pending_vectors_.data());
  } catch (const faiss::FaissException&) {
    return false;  // too few vectors for this index: they stay held back
  }
  std::vector<int64_t> ids = std::move(pending_ids_);
  std::vector<float> vectors = std::move(pending_vectors_);
  pending_ids_.clear();
  pending_vectors_.clear();
  add(ids, vectors.data());
  return true;
}

void DenseIndex::remove(const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  if (!pending_ids_.empty()) {
    const std::unordered_set<int64_t> gone(ids.begin(), ids.end());
    size_t kept = 0;
    for (size_t i = 0; i < pending_ids_.size(); ++i) {
      if (gone.count(pending_ids_[i])) continue;
      pending_ids_[kept] = pending_ids_[i];
      std::copy_n(pending_vectors_.begin() + static_cast<int64_t>(i) * dimension_, dimension_,
                  pending_vectors_.begin() + static_cast<int64_t>(kept) * dimension_);
      ++kept;
    }
    pending_ids_.resize(kept);
    pending_vectors_.resize(kept * static_cast<size_t>(dimension_));
  }
  if (!removes_in_place_) {
    // Only ids the index holds, so that size() stays exact.
    const auto map = dynamic_cast<const faiss::IndexIDMap2*>(index_.get());
    for (int64_t id : ids)
      if (!map || map->rev_map.count(id)) deleted_.insert(id);
    return;
  }
  try {
    index_->remove_ids(faiss::IDSelectorBatch(ids.size(), ids.data()));
  } catch (const faiss::FaissException& e) {
    throw std::runtime_error("dense index (" + factory_ + "): cannot remove vectors: " + faiss_message(e));
  }
}

std::vector<std::vector<ScoredId>> DenseIndex::search(const float* queries, int64_t n, int64_t k) const {
  std::vector<std::vector<ScoredId>> results(static_cast<size_t>(n));
  const int64_t total = index_->ntotal;
  if (n <= 0 || k <= 0 || total == 0 || !index_->is_trained) return results;
  // Deleted ids of a graph index still come back from FAISS: ask for more until k live ones
  // remain for every query (or everything was seen).
  int64_t fetch = std::min(total, deleted_.empty() ? k : k + std::min<int64_t>(k, static_cast<int64_t>(deleted_.size())));
  std::vector<float> scores;
  std::vector<faiss::Index::idx_t> labels;
  for (;;) {
    scores.resize(static_cast<size_t>(n * fetch));
    labels.resize(static_cast<size_t>(n * fetch));
    try {
      index_->search(n, queries, fetch, scores.data(), labels.data());
    } catch (const faiss::FaissException& e) {
      throw std::runtime_error("dense index (" + factory_ + "): search failed: " + faiss_message(e));
    }
    bool short_of_k = false;
    for (int64_t q = 0; q < n; ++q) {
      auto& hits = results[static_cast<size_t>(q)];
      hits.clear();
      for (int64_t j = 0; j < fetch && static_cast<int64_t>(hits.size()) < k; ++j) {
        const faiss::Index::idx_t id = labels[static_cast<size_t>(q * fetch + j)];
        if (id < 0 || deleted_.count(id)) continue;
        hits.push_back({id, scores[static_cast<size_t>(q * fetch + j)]});
      }
      short_of_k = short_of_k || static_cast<int64_t>(hits.size()) < k;
    }
    if (!short_of_k || fetch >= total) return results;
    fetch = std::min(total, fetch * 4);
  }
}

std::vector<int64_t> DenseIndex::ids() const {
  std::vector<int64_t> out;
  if (auto map = dynamic_cast<const faiss::IndexIDMap*>(index_.get())) {
    out.assign(map->id_map.begin(), map->id_map.end());
  } else if (const faiss::IndexIVF* ivf = find_ivf(index_.get())) {
    out.reserve(static_cast<size_t>(ivf->ntotal));
    for (size_t list = 0; list < ivf->nlist; ++list) {
      faiss::InvertedLists::ScopedIds list_ids(ivf->invlists, list);
      out.insert(out.end(), list_ids.get(), list_ids.get() + ivf->invlists->list_size(list));
    }
  }
  if (!deleted_.empty())
    out.erase(std::remove_if(out.begin(), out.end(), [&](int64_t id) { return deleted_.count(id) > 0; }), out.end());
  out.insert(out.end(), pending_ids_.begin(), pending_ids_.end());
  return out;
}

std::vector<float> DenseIndex::reconstruct(const std::vector<int64_t>& ids) const {
  const auto map = dynamic_cast<const faiss::IndexIDMap2*>(index_.get());
  const faiss::Index* inner = map ? map->index : nullptr;
  const auto hnsw = dynamic_cast<const faiss::IndexHNSW*>(inner);
  const bool exact = dynamic_cast<const faiss::IndexFlat*>(inner) ||
                     (hnsw && dynamic_cast<const faiss::IndexFlat*>(hnsw->storage));
  if (!exact) return {};
  std::unordered_map<int64_t, size_t> pending_row;
  for (size_t i = 0; i < pending_ids_.size(); ++i) pending_row[pending_ids_[i]] = i;
  std::vector<float> out(ids.size() * static_cast<size_t>(dimension_));
  for (size_t i = 0; i < ids.size(); ++i) {
    float* row = out.data() + i * static_cast<size_t>(dimension_);
    if (auto p = pending_row.find(ids[i]); p != pending_row.end()) {
      std::copy_n(pending_vectors_.data() + p->second * static_cast<size_t>(dimension_), dimension_, row);
    } else if (map->rev_map.count(ids[i]) && !deleted_.count(ids[i])) {
      map->reconstruct(ids[i], row);
    } else {
      throw std::out_of_range("dense index: no vector for passage " + std::to_string(ids[i]));
    }
  }
  return out;
}

int64_t DenseIndex::stored() const { return index_->ntotal; }

int64_t DenseIndex::size() const { return index_->ntotal - deleted() + pending(); }

}  // namespace longqa::retriever
