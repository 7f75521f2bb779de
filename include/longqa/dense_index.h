// Dense vectors of passages in FAISS, searched by inner product (embeddings are L2-normalised,
// so this is cosine similarity). The index type is a FAISS factory string ("Flat", "HNSW32",
// "IVF1024,Flat", "IVF4096,PQ64", ...); ids are the docstore's passage ids.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace faiss {
struct Index;
}

namespace longqa::retriever {

struct ScoredId {
  int64_t id;
  float score;  // higher is better
};

// A file's size and checksum, as recorded in the index manifest.
struct FileDigest {
  uint64_t bytes = 0;
  std::string checksum;  // "wh64:" + 16 hex digits (a 64-bit word hash of the bytes)
};
// Size and checksum of a file on disk; throws naming the file when it cannot be read.
FileDigest file_digest(const std::string& path);

class DenseIndex {
 public:
  // An empty index. Factories whose index cannot hold ids (Flat, HNSW, PQ, ...) are wrapped
  // in an IndexIDMap2; IVF indexes hold ids themselves.
  DenseIndex(int64_t dimension, const std::string& factory);
  // Reads a file written by save(). Its size and checksum are compared with `expected` first,
  // so a truncated or damaged file is refused (longqa::FileFormatError) before FAISS parses it.
  static DenseIndex load(const std::string& path, const std::string& factory, const FileDigest& expected);

  // Writes the index atomically (longqa::AtomicFile: temp file, fsync, rename, fsync of the folder).
  // Vectors held back for training are not written (their passages are re-encoded on open).
  FileDigest save(const std::string& path) const;

  // Adds n vectors (n x dimension, row-major) with these ids. An index that needs training
  // (IVF, PQ) holds vectors back until it has enough to train on (or until train_pending()).
  void add(const std::vector<int64_t>& ids, const float* vectors);
  // Trains an untrained index on the vectors held back and adds them. False, with the vectors
  // still held back, when FAISS cannot train on so few (an IVF index needs one per list).
  bool train_pending();
  // Removes these ids. Graph indexes (HNSW, NSG) cannot remove: their ids go into a deleted
  // set that search() filters out, and the vectors stay in the file until a rebuild.
  void remove(const std::vector<int64_t>& ids);

  // Top k of each of n queries (n x dimension), best first; deleted ids never appear.
  std::vector<std::vector<ScoredId>> search(const float* queries, int64_t n, int64_t k) const;

  // Ids of every live vector (searchable or held back for training), in no particular order.
  std::vector<int64_t> ids() const;
  // The vectors of these live ids (ids.size() x dimension), when the index stores them exactly
  // (Flat, HNSW..,Flat); empty for compressed or IVF indexes. Throws for an id it does not hold.
  std::vector<float> reconstruct(const std::vector<int64_t>& ids) const;
  int64_t size() const;           // live vectors
  int64_t stored() const;         // vectors in the FAISS index, deleted ones included
  int64_t pending() const { return static_cast<int64_t>(pending_ids_.size()); }
  int64_t deleted() const { return static_cast<int64_t>(deleted_.size()); }
  int64_t dimension() const { return dimension_; }
  const std::string& factory() const { return factory_; }
  bool removes_in_place() const { return removes_in_place_; }
  // Search breadth: efSearch for HNSW, nprobe for IVF; ignored by exhaustive indexes.
  void set_search_breadth(int64_t breadth);
  // The FAISS index itself (for benchmarks against raw FAISS).
  const faiss::Index& faiss_index() const { return *index_; }

  DenseIndex(DenseIndex&&) noexcept;
  DenseIndex& operator=(DenseIndex&&) noexcept;
  ~DenseIndex();

 private:
  DenseIndex(std::unique_ptr<faiss::Index> index, std::string factory);
  void configure();  // removal support, training target, default search breadth

  std::unique_ptr<faiss::Index> index_;
  std::string factory_;
  int64_t dimension_ = 0;
  bool removes_in_place_ = true;
  int64_t train_target_ = 0;  // vectors held back before training an untrained index
  std::vector<int64_t> pending_ids_;
  std::vector<float> pending_vectors_;
  std::unordered_set<int64_t> deleted_;  // graph indexes only
};

}  // namespace longqa::retriever
