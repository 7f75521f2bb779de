// The reader's passage prior from the retriever's embeddings (longqa/retriever.h).
#include <ATen/core/Tensor.h>

#include <stdexcept>

#include "longqa/retriever.h"
#include "longqa/text_encoder.h"

namespace longqa::retriever {
namespace {

// The document's passages cut and encoded from its text, as the store would cut them.
std::vector<PassageRelevance> encoded_relevance(const TextEncoder& encoder, const IndexOptions& options,
                                                const Document& document, const float* question) {
  const EncodedDocuments encoded = split_and_encode(encoder, options, {document});
  return passage_relevance(encoded.items.front().passages, encoded.vectors.data(), encoder.dimension(), question);
}

}  // namespace

std::vector<PassageRelevance> passage_relevance(const std::vector<Passage>& passages, const float* vectors,
                                                int64_t dimension, const float* question) {
  std::vector<PassageRelevance> out;
  out.reserve(passages.size());
  for (size_t i = 0; i < passages.size(); ++i) {
    const float* row = vectors + i * static_cast<size_t>(dimension);
    double dot = 0;
    for (int64_t k = 0; k < dimension; ++k) dot += static_cast<double>(row[k]) * question[k];
    out.push_back({passages[i].begin, passages[i].end, dot});
  }
  return out;
}

std::vector<PassageRelevance> passage_relevance(const Store& store, const Document& document, const float* question) {
  // The stored passages and vectors, when they still fit the fetched text and every vector is
  // there. They may not: a writer may have replaced or removed the document since it was
  // fetched, a read-only open leaves documents added since the last commit without vectors,
  // and approximate indexes (IVF-PQ) keep no exact vectors. Then the text is cut and encoded
  // again: the prior never fails a read.
  const std::vector<StoredPassage> stored = store.document_passages(document.id, false);
  std::vector<Passage> passages;
  std::vector<int64_t> ids;
  bool fits = !stored.empty();
  for (const StoredPassage& p : stored) {
    fits = fits && p.begin <= p.end && p.end <= static_cast<int64_t>(document.text.size());
    passages.push_back({p.index, p.begin, p.end});
    ids.push_back(p.id);
  }
  const TextEncoder& encoder = store.encoder();
  std::vector<float> vectors;
  if (fits) {
    try {
      vectors = store.passage_vectors(ids);
    } catch (const std::out_of_range&) {
      vectors.clear();  // a passage without its vector
    }
  }
  if (!fits || vectors.size() != passages.size() * static_cast<size_t>(encoder.dimension()))
    return encoded_relevance(encoder, store.info().options, document, question);
  return passage_relevance(passages, vectors.data(), encoder.dimension(), question);
}

std::vector<PassageRelevance> passage_relevance(const TextEncoder& encoder, const IndexOptions& options,
                                                const Document& document, const std::string& question) {
  const at::Tensor q = encoder.encode({question}).contiguous();
  return encoded_relevance(encoder, options, document, q.data_ptr<float>());
}

std::vector<float> question_embedding(const Store& store, const std::string& question) {
  const at::Tensor encoded = store.encoder().encode({question}).contiguous();
  return {encoded.data_ptr<float>(), encoded.data_ptr<float>() + encoded.numel()};
}

}  // namespace longqa::retriever
