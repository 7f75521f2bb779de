// The embedded Store (longqa/store.h). An index directory: the manifest (index.json), the docstore (docstore.sqlite: documents,
// passages, BM25) and the dense vectors (dense-<generation>.faiss).
//
// Consistency model. The docstore is the source of truth; the FAISS file is a checkpoint of
// vectors computable from it.
//   add()/remove(): one SQLite transaction (WAL, synchronous=FULL) — when it returns the change
//     is durable — then the in-memory FAISS index is updated.
//   commit(): the FAISS index goes to a new file dense-<g+1>.faiss (temp file, fsync, rename),
//     then index.json names it with generation g+1, its size and checksum (temp, fsync,
//     rename). Files of generations before g are deleted after that. Settings kept in both
//     (the BM25 tokenization) are taken from the docstore when they differ.
//   open(): index.json is read (refused when garbage), the encoder's id compared with the one
//     that built the index (refused when different), the docstore checked, the FAISS file's
//     size and checksum compared with the manifest (refused when different; a bad manifest or
//     FAISS file throws longqa::FileFormatError), then the two are
//     reconciled: FAISS ids the docstore no longer has are dropped; passages the docstore has
//     but FAISS lacks (a crash between a returned add() and the next commit()) are re-encoded
//     when opened for writing — and the repair committed — or counted when opened read-only
//     (BM25 finds them meanwhile).
// A process killed at any moment thus leaves an index that opens, and every document whose
// add() returned is in it. One writer at a time (a lock file); readers never block it.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "longqa/corpus.h"
#include "longqa/dense_index.h"
#include "longqa/docstore.h"
#include "longqa/store.h"

namespace longqa {
class TextEncoder;
}

namespace longqa::retriever {

// index.json.
struct Manifest {
  static constexpr int kFormatVersion = 1;
  int64_t generation = 0;  // increases with every commit
  std::string created, updated;  // ISO 8601, UTC
  std::string encoder_id, encoder_path;
  int64_t dimension = 0;
  IndexOptions options;
  std::string dense_file;  // relative to the index directory
  FileDigest dense_digest;
  int64_t dense_vectors = 0;  // in the FAISS file, deleted ones of a graph index included
  int64_t documents = 0, passages = 0;

  // Throws, naming the file and the field, when index.json is missing, not JSON or incomplete.
  static Manifest read(const std::string& dir);
  std::string to_json() const;
};

class Index final : public Store {
 public:
  // A new index in `dir` (created; it must be empty or not exist), committed at generation 1.
  static Index create(const std::string& dir, std::shared_ptr<const TextEncoder> encoder, const IndexOptions& options);
  // An existing index; see the consistency model above for what is checked and repaired.
  static Index open(const std::string& dir, std::shared_ptr<const TextEncoder> encoder,
                    OpenMode mode = OpenMode::kReadOnly);

  // Documents split into passages and encoded elsewhere (a batch job on a GPU, say): `vectors`
  // holds one row of dimension() floats per passage, in order. They must come from this index's
  // encoder: passages a crash leaves out of the dense index are re-encoded with it on open.
  AddResult add_encoded(std::vector<DocumentPassages> items, const float* vectors) override;

  RemoveResult remove(const std::vector<std::string>& ids) override;

  // Re-indexes every passage for BM25 with another tokenization (no re-encoding), then commits.
  void set_bm25_tokenization(Bm25Tokenization tokenization);

  // Checkpoints the dense vectors and writes the manifest (a new generation). Trains an
  // IVF/PQ index on the vectors held back if it is not trained yet; when there are too few
  // to train on they stay held back (stats().dense_pending) and dense search finds nothing.
  void commit() override;

  // What open() found and did.
  struct OpenReport {
    int64_t dropped = 0;     // FAISS ids of passages no longer in the docstore
    int64_t reencoded = 0;   // passages re-encoded into FAISS (read-write)
    int64_t missing = 0;     // passages not in FAISS, left for a writer (read-only)
  };
  const OpenReport& open_report() const { return open_report_; }

  // Search primitives for Retriever; safe to call from many threads, also during writes.
  std::vector<std::vector<ScoredId>> dense_search(const float* queries, int64_t n, int64_t k) const override;
  std::vector<ScoredId> bm25_search(const std::string& query, int64_t k) const override;
  std::vector<StoredPassage> passages(const std::vector<int64_t>& ids, bool with_text) const override;
  std::optional<Document> document(const std::string& id) const override;
  std::vector<StoredPassage> document_passages(const std::string& id, bool with_text) const override;
  std::vector<std::string> document_ids(const std::string& after, int64_t limit) const override;
  std::vector<float> passage_vectors(const std::vector<int64_t>& ids) const override;

  Stats stats() const override;
  StoreInfo info() const override;
  const Manifest& manifest() const { return manifest_; }  // as of the last commit
  const TextEncoder& encoder() const override { return *encoder_; }
  const std::string& dir() const { return dir_; }
  // Search breadth of the dense index (efSearch for HNSW, nprobe for IVF).
  void set_search_breadth(int64_t breadth) override;

  Index(Index&&) noexcept;
  Index& operator=(Index&&) noexcept;
  ~Index();  // does not commit: vectors added since the last commit are re-encoded on open

 protected:
  const IndexOptions& index_options() const override { return manifest_.options; }

 private:
  struct Lock;
  Index(std::string dir, std::shared_ptr<const TextEncoder> encoder, Manifest manifest, Docstore docstore,
        DenseIndex dense, std::unique_ptr<Lock> lock);
  void reconcile(bool repair);
  void encode_into_dense(const std::vector<int64_t>& ids, const std::vector<std::string>& inputs);
  void require_writable(const char* what) const override;

  std::string dir_;
  std::shared_ptr<const TextEncoder> encoder_;
  Manifest manifest_;
  Docstore docstore_;
  DenseIndex dense_;
  std::unique_ptr<Lock> lock_;  // held by a writer; null when read-only
  OpenReport open_report_;
  // Writers take write_mutex_ for a whole operation, and dense_mutex_ exclusively only while
  // they change the in-memory FAISS index; searches take dense_mutex_ shared.
  std::unique_ptr<std::mutex> write_mutex_;
  std::unique_ptr<std::shared_mutex> dense_mutex_;
};

}  // namespace longqa::retriever
