// Top-k documents for a question, each with its best passages: dense (inner product of
// embeddings), BM25 (FTS5), or both fused by weighted reciprocal rank fusion.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

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

}  // namespace longqa::retriever
