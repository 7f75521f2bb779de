// Top-k documents for a question, each with its best passages: dense (inner product of
// embeddings), BM25 (FTS5), or both fused by weighted reciprocal rank fusion.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "longqa/reader.h"
#include "longqa/store.h"

namespace longqa::retriever {

enum class SearchMode { kDense, kBm25, kFused };
std::string to_string(SearchMode mode);
SearchMode parse_search_mode(const std::string& name);  // "dense", "bm25" or "fused"

struct RetrieverOptions {
  SearchMode mode = SearchMode::kFused;
  // Passages each method ranks before fusion and grouping (at least 4 per document asked for).
  int64_t candidates = 100;
  // Reciprocal rank fusion: a passage scores sum over methods of weight / (rrf_k + rank), rank from 1.
  double rrf_k = 60;
  double dense_weight = 1.0, bm25_weight = 1.0;
  int64_t passages_per_document = 3;  // best passages kept with each document
  int64_t encode_batch = 32;          // questions per encoder call in search_batch
};

struct PassageHit {
  int64_t id = 0;     // passage id
  int64_t index = 0;  // position within its document
  int64_t begin = 0, end = 0;  // byte range into the document text
  double score = 0;            // of the mode: inner product, BM25, or fused
  double dense_score = 0, bm25_score = 0;
  int64_t dense_rank = 0, bm25_rank = 0;  // 1-based; 0 when that method did not rank it
  std::string text;
};

struct DocumentHit {
  std::string id, title;
  double score = 0;                  // its best passage's score
  std::vector<PassageHit> passages;  // best first
};

class Retriever {
 public:
  // `index` must outlive the retriever.
  explicit Retriever(const Store& index, RetrieverOptions options = {});

  std::vector<DocumentHit> search(const std::string& question, int64_t k) const;
  // Questions encoded together, encode_batch at a time.
  std::vector<std::vector<DocumentHit>> search_batch(const std::vector<std::string>& questions, int64_t k) const;
  // With question embeddings computed elsewhere: (questions.size() x dimension), row-major.
  std::vector<std::vector<DocumentHit>> search_batch(const std::vector<std::string>& questions,
                                                     const float* embeddings, int64_t k) const;

  const RetrieverOptions& options() const { return options_; }

 private:
  const Store& index_;
  RetrieverOptions options_;
};

// The reader's passage prior (ReadRequest::relevance): how relevant each passage of a document
// is to a question, as the inner product of their embeddings (cosine for encoders that
// normalize). `vectors` holds one row of `dimension` floats per passage, `question` one.
std::vector<PassageRelevance> passage_relevance(const std::vector<Passage>& passages, const float* vectors,
                                                int64_t dimension, const float* question);
// The same for a document fetched from the store: its stored passages and vectors; its text cut
// and encoded again (the store's encoder and passage settings) when those no longer fit the
// text or a vector is missing (replaced since fetched, added since a read-only open's last
// commit) or the dense index keeps no exact vectors (IVF-PQ: a cost on every read).
std::vector<PassageRelevance> passage_relevance(const Store& store, const Document& document, const float* question);
// The same for a document in no index: its passages cut and encoded as an index with
// `options` would cut and encode them (split_and_encode).
std::vector<PassageRelevance> passage_relevance(const TextEncoder& encoder, const IndexOptions& options,
                                                const Document& document, const std::string& question);
// The question's embedding by the store's encoder (dimension floats).
std::vector<float> question_embedding(const Store& store, const std::string& question);

}  // namespace longqa::retriever
