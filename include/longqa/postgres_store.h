// The PostgreSQL backend of Store (longqa/store.h), through libpq, with pgvector and pg_trgm.
//
// Tables (in the connection's search_path: one index per schema, e.g. a connection string
// ending in ?options=-csearch_path%3Dmyindex):
//   longqa_meta       key/value: format, encoder id and path, dimension, passage settings
//   longqa_documents  id, title, text, metadata, source, html offsets
//   longqa_passages   id (identity), document, idx, byte range, the passage's input text,
//                     its vector (pgvector, HNSW index with vector_ip_ops) and, for English,
//                     a generated tsvector (GIN); for Korean a pg_trgm GIN index on the input
//
// Consistency: add() and remove() are one transaction each, committed (synchronous_commit as
// the server sets it, "on" by default) before they return; every search reads the tables, so
// a write acknowledged by one replica is seen by the next query of every replica. A replica
// keeps nothing but its connections: it can be killed and restarted at any moment.
// Concurrent writers (replicas) replacing the same document serialise on its row; a deadlock
// or serialisation failure retries the transaction.
#pragma once
#include <memory>
#include <string>

#include "longqa/store.h"

namespace longqa::retriever {

// The connection string with any password replaced by "***" (for logs, errors and /v1/index).
std::string redact_connection_string(const std::string& location);

class PostgresStore final : public Store {
 public:
  // Creates the tables and indexes (and the vector and pg_trgm extensions when missing) in
  // one transaction; refuses a schema that already holds longqa tables.
  static PostgresStore create(const std::string& location, std::shared_ptr<const TextEncoder> encoder,
                              const IndexOptions& options);
  // Opens an existing store; refuses one built with another encoder, or one that is not a
  // longqa store. Read-only refuses writes in this process (the database is not locked).
  static PostgresStore open(const std::string& location, std::shared_ptr<const TextEncoder> encoder,
                            OpenMode mode = OpenMode::kReadOnly);
  // The encoder path recorded at create(), read without an encoder.
  static std::string recorded_encoder_path(const std::string& location);

  AddResult add_encoded(std::vector<DocumentPassages> items, const float* vectors) override;
  RemoveResult remove(const std::vector<std::string>& ids) override;
  void commit() override {}  // every write is already committed

  std::vector<std::vector<ScoredId>> dense_search(const float* queries, int64_t n, int64_t k) const override;
  std::vector<ScoredId> bm25_search(const std::string& query, int64_t k) const override;
  std::vector<StoredPassage> passages(const std::vector<int64_t>& ids, bool with_text) const override;
  std::optional<Document> document(const std::string& id) const override;
  std::vector<StoredPassage> document_passages(const std::string& id, bool with_text) const override;
  std::vector<std::string> document_ids(const std::string& after, int64_t limit) const override;
  std::vector<float> passage_vectors(const std::vector<int64_t>& ids) const override;

  Stats stats() const override;
  StoreInfo info() const override { return info_; }
  const TextEncoder& encoder() const override { return *encoder_; }
  void set_search_breadth(int64_t breadth) override;

  PostgresStore(PostgresStore&&) noexcept;
  PostgresStore& operator=(PostgresStore&&) noexcept;
  ~PostgresStore() override;

  struct Pool;  // connections, one per concurrent caller

 protected:
  const IndexOptions& index_options() const override { return info_.options; }
  void require_writable(const char* what) const override;

 private:
  PostgresStore(std::unique_ptr<Pool> pool, std::shared_ptr<const TextEncoder> encoder, StoreInfo info, bool writable);

  std::unique_ptr<Pool> pool_;
  std::shared_ptr<const TextEncoder> encoder_;
  StoreInfo info_;
  bool writable_ = false;
};

}  // namespace longqa::retriever
