// Where an index lives. The retriever, the pipeline, the server and the CLI see one interface,
// Store, with two backends:
//   Index          (longqa/index.h)          embedded, the default: a directory holding a SQLite
//                                            docstore (BM25 in FTS5) and a FAISS file; needs nothing
//   PostgresStore  (longqa/postgres_store.h) PostgreSQL with pgvector: documents, passages and
//                                            vectors in tables, full text (English) or pg_trgm
//                                            (Korean) for the lexical side; shared by any number
//                                            of `longqa serve` replicas
// open_store() and create_store() pick one by the location: a postgresql:// (or postgres://)
// connection string, or else a directory.
//
// Both keep the same promise: add() and remove() are durable when they return, and a store
// opened again (any process, any replica) finds them.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "longqa/corpus.h"
#include "longqa/dense_index.h"
#include "longqa/docstore.h"

namespace longqa {
class TextEncoder;
}

namespace longqa::retriever {

// Settings fixed when an index is created.
struct IndexOptions {
  std::string factory = "Flat";  // FAISS factory string (embedded); inner product metric
  Bm25Tokenization bm25 = Bm25Tokenization::kWordPiece;  // lexical side (PostgreSQL: full text or pg_trgm)
  int64_t passage_tokens = 256;  // passage window in encoder tokens (capped by the encoder's length)
  int64_t passage_overlap = 32;  // tokens shared by consecutive passages
  std::string encoder_path;      // recorded so that commands can find the encoder
};

enum class OpenMode { kReadOnly, kReadWrite };

// What a store is, for `index info` and the server's /v1/index.
struct StoreInfo {
  std::string backend;   // "embedded" or "postgresql"
  std::string location;  // the directory, or the connection string without its password
  std::string encoder_id, encoder_path;
  int64_t dimension = 0;
  IndexOptions options;
  std::string dense;     // FAISS factory, or the pgvector index ("hnsw (vector_ip_ops)")
  std::string lexical;   // "fts5 wordpiece", "fts5 trigram", "postgresql full text (english)", "pg_trgm"
  int64_t generation = 0;  // embedded: the last commit's; PostgreSQL: 0 (every write is committed)
  std::string created, updated;
};

class Store {
 public:
  struct AddResult {
    int64_t documents = 0;  // added, replacements included
    int64_t replaced = 0;   // of them, replacing a document with the same id
    int64_t passages = 0;
  };
  struct RemoveResult {
    int64_t documents = 0, passages = 0;
    std::vector<std::string> missing;  // ids that were not in the index
  };
  struct Stats {
    int64_t documents = 0, passages = 0;
    int64_t dense_vectors = 0;  // live vectors
    int64_t dense_deleted = 0;  // deleted vectors a graph index still holds
    int64_t dense_pending = 0;  // vectors waiting for an untrained index to be trained
  };

  virtual ~Store() = default;

  // Splits each document into passages, encodes them, stores everything in one transaction
  // (a document with an id already stored replaces it). Durable when it returns.
  AddResult add(std::vector<Document> documents);
  // Documents split into passages and encoded elsewhere (a batch job on a GPU, an export):
  // `vectors` holds one row of dimension() floats per passage, in order, from this store's encoder.
  virtual AddResult add_encoded(std::vector<DocumentPassages> items, const float* vectors) = 0;
  // Removes documents by id. Durable when it returns.
  virtual RemoveResult remove(const std::vector<std::string>& ids) = 0;
  // Embedded: checkpoints the dense vectors (a new generation). PostgreSQL: nothing to do.
  virtual void commit() = 0;

  // Search primitives for Retriever; safe to call from many threads, also during writes.
  virtual std::vector<std::vector<ScoredId>> dense_search(const float* queries, int64_t n, int64_t k) const = 0;
  // Lexical top k (BM25 in the embedded store; full text or trigram similarity in PostgreSQL).
  virtual std::vector<ScoredId> bm25_search(const std::string& query, int64_t k) const = 0;
  virtual std::vector<StoredPassage> passages(const std::vector<int64_t>& ids, bool with_text) const = 0;
  virtual std::optional<Document> document(const std::string& id) const = 0;
  virtual std::vector<StoredPassage> document_passages(const std::string& id, bool with_text) const = 0;
  // Ids of every stored document, ascending, from `after` (exclusive), at most `limit`: for export.
  virtual std::vector<std::string> document_ids(const std::string& after, int64_t limit) const = 0;
  // The stored vectors of these passages (ids.size() x dimension), when the backend keeps
  // them exactly; empty otherwise (an export then re-encodes).
  virtual std::vector<float> passage_vectors(const std::vector<int64_t>& ids) const = 0;

  virtual Stats stats() const = 0;
  virtual StoreInfo info() const = 0;
  virtual const TextEncoder& encoder() const = 0;
  // Search breadth of the dense index (efSearch for HNSW, nprobe for IVF).
  virtual void set_search_breadth(int64_t breadth) = 0;

 protected:
  virtual const IndexOptions& index_options() const = 0;
  // Throws when the store was opened read-only (before add() spends time encoding).
  virtual void require_writable(const char* what) const = 0;
};

inline constexpr int64_t kPassagesPerEncode = 256;  // passages per encoder call when indexing

// Passages of documents by an encoder's tokens, and their vectors: what add() stores.
struct EncodedDocuments {
  std::vector<DocumentPassages> items;
  std::vector<float> vectors;  // one row of encoder.dimension() per passage, in order
};
EncodedDocuments split_and_encode(const TextEncoder& encoder, const IndexOptions& options,
                                  std::vector<Document> documents);

// True for a postgresql:// or postgres:// connection string.
bool is_postgres_location(const std::string& location);
// An existing store: a PostgreSQL connection string or an index directory.
std::unique_ptr<Store> open_store(const std::string& location, std::shared_ptr<const TextEncoder> encoder,
                                  OpenMode mode = OpenMode::kReadOnly);
// A new one (the directory must be empty or not exist; the PostgreSQL database must hold no
// longqa tables yet).
std::unique_ptr<Store> create_store(const std::string& location, std::shared_ptr<const TextEncoder> encoder,
                                    const IndexOptions& options);
// The encoder path a store records (its manifest, or its meta table), without opening the
// store with an encoder: commands use it to find the encoder. Empty when none is recorded.
std::string recorded_encoder_path(const std::string& location);

// Moving an index between stores (`longqa index export/import`). An export is a folder:
//   documents.jsonl  one document per line: id, title, text, metadata, source, html_offsets, and
//                    its passages as [begin, end] byte ranges
//   vectors.f32      the passages' vectors, float32 little-endian rows, in the order of the lines
//                    (absent when the store keeps no exact vectors: an IVF/PQ FAISS index)
//   export.json      written last: what made it (encoder id and path, dimension, passage
//                    settings) and the counts; an export without it is incomplete and refused
struct ExportSummary {
  int64_t documents = 0, passages = 0;
  bool vectors = false;  // vectors.f32 written (import then needs no encoder time)
};
using TransferProgress = std::function<void(int64_t documents, int64_t passages)>;
ExportSummary export_store(const Store& store, const std::string& dir, const TransferProgress& progress = {});
// Into an open, writable store. The exported passages and vectors are kept when the store's
// encoder and passage settings are the export's; otherwise each document is split and encoded
// again. `batch` documents per transaction.
struct ImportSummary {
  int64_t documents = 0, passages = 0;
  bool reencoded = false;
};
ImportSummary import_store(Store& store, const std::string& dir, int64_t batch = 64,
                           const TransferProgress& progress = {});
// export.json of an export folder (throws naming the file when missing or not an export).
struct ExportHeader {
  std::string encoder_id, encoder_path;
  int64_t dimension = 0;
  IndexOptions options;
  int64_t documents = 0, passages = 0;
  bool vectors = false;
};
ExportHeader read_export_header(const std::string& dir);

}  // namespace longqa::retriever
