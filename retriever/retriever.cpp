// Dense and BM25 passage rankings, fused, grouped into documents.
#include "longqa/retriever.h"

#include <ATen/core/Tensor.h>

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

#include "longqa/text_encoder.h"

namespace longqa::retriever {

std::string to_string(SearchMode mode) {
  switch (mode) {
    case SearchMode::kDense:
      return "dense";
    case SearchMode::kBm25:
      return "bm25";
    case SearchMode::kFused:
      return "fused";
  }
  return "?";
}

SearchMode parse_search_mode(const std::string& name) {
  if (name == "dense") return SearchMode::kDense;
  if (name == "bm25") return SearchMode::kBm25;
  if (name == "fused") return SearchMode::kFused;
  throw std::invalid_argument("unknown search mode '" + name + "' (expected fused, dense or bm25)");
}

Retriever::Retriever(const Store& index, RetrieverOptions options) : index_(index), options_(options) {
  if (options_.candidates <= 0 || options_.passages_per_document <= 0 || options_.encode_batch <= 0 ||
      options_.rrf_k < 0)
    throw std::invalid_argument("retriever: candidates, passages_per_document and encode_batch must be positive, "
                                "rrf_k not negative");
}

std::vector<DocumentHit> Retriever::search(const std::string& question, int64_t k) const {
  return search_batch({question}, k).front();
}

std::vector<std::vector<DocumentHit>> Retriever::search_batch(const std::vector<std::string>& questions,
                                                              int64_t k) const {
  if (options_.mode == SearchMode::kBm25 || questions.empty()) return search_batch(questions, nullptr, k);
  const at::Tensor embeddings = index_.encoder().encode(questions, options_.encode_batch).contiguous();
  return search_batch(questions, embeddings.data_ptr<float>(), k);
}

std::vector<std::vector<DocumentHit>> Retriever::search_batch(const std::vector<std::string>& questions,
                                                              const float* embeddings, int64_t k) const {
  const auto n = static_cast<int64_t>(questions.size());
  std::vector<std::vector<DocumentHit>> results(questions.size());
  if (n == 0 || k <= 0) return results;
  const bool use_dense = options_.mode != SearchMode::kBm25, use_bm25 = options_.mode != SearchMode::kDense;
  if (use_dense && !embeddings) throw std::invalid_argument("retriever: dense search needs question embeddings");
  const int64_t candidates = std::max(options_.candidates, 4 * k);
  const auto dense = use_dense ? index_.dense_search(embeddings, n, candidates) : std::vector<std::vector<ScoredId>>();

  for (int64_t q = 0; q < n; ++q) {
    std::unordered_map<int64_t, PassageHit> hits;
    if (use_dense) {
      int64_t rank = 0;
      for (const ScoredId& s : dense[static_cast<size_t>(q)]) {
        PassageHit& h = hits[s.id];
        h.dense_rank = ++rank;
        h.dense_score = s.score;
      }
    }
    if (use_bm25) {
      int64_t rank = 0;
      for (const ScoredId& s : index_.bm25_search(questions[static_cast<size_t>(q)], candidates)) {
        PassageHit& h = hits[s.id];
        h.bm25_rank = ++rank;
        h.bm25_score = s.score;
      }
    }
    for (auto& [id, h] : hits) {
      h.id = id;
      if (options_.mode == SearchMode::kDense) {
        h.score = h.dense_score;
      } else if (options_.mode == SearchMode::kBm25) {
        h.score = h.bm25_score;
      } else {
        h.score = (h.dense_rank ? options_.dense_weight / (options_.rrf_k + static_cast<double>(h.dense_rank)) : 0) +
                  (h.bm25_rank ? options_.bm25_weight / (options_.rrf_k + static_cast<double>(h.bm25_rank)) : 0);
      }
    }

    // Group by document: a document scores as its best passage.
    std::vector<int64_t> ids;
    ids.reserve(hits.size());
    for (const auto& entry : hits) ids.push_back(entry.first);
    std::unordered_map<std::string, size_t> slot;
    std::vector<DocumentHit> documents;
    for (const StoredPassage& p : index_.passages(ids, false)) {  // passages deleted meanwhile are skipped
      PassageHit& h = hits[p.id];
      h.index = p.index;
      h.begin = p.begin;
      h.end = p.end;
      auto [it, fresh] = slot.emplace(p.document_id, documents.size());
      if (fresh) documents.push_back({p.document_id, p.title, h.score, {}});
      DocumentHit& doc = documents[it->second];
      doc.score = std::max(doc.score, h.score);
      doc.passages.push_back(h);
    }
    auto better = [](const auto& a, const auto& b) { return a.score != b.score ? a.score > b.score : a.id < b.id; };
    std::sort(documents.begin(), documents.end(), better);
    if (static_cast<int64_t>(documents.size()) > k) documents.resize(static_cast<size_t>(k));

    std::vector<int64_t> kept;
    for (DocumentHit& doc : documents) {
      std::sort(doc.passages.begin(), doc.passages.end(), better);
      if (static_cast<int64_t>(doc.passages.size()) > options_.passages_per_document)
        doc.passages.resize(static_cast<size_t>(options_.passages_per_document));
      for (const PassageHit& h : doc.passages) kept.push_back(h.id);
    }
    std::unordered_map<int64_t, std::string> texts;
    for (StoredPassage& p : index_.passages(kept, true)) texts[p.id] = std::move(p.text);
    for (DocumentHit& doc : documents)
      for (PassageHit& h : doc.passages) h.text = std::move(texts[h.id]);
    results[static_cast<size_t>(q)] = std::move(documents);
  }
  return results;
}

}  // namespace longqa::retriever
