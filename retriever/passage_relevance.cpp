// The reader's passage prior from the retriever's embeddings (longqa/retriever.h).
#include <ATen/core/Tensor.h>

#include <stdexcept>

#include "longqa/retriever.h"
#include "longqa/text_encoder.h"

namespace longqa::retriever {

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
  const std::vector<StoredPassage> stored = store.document_passages(document.id, false);
  if (stored.empty()) return {};
  std::vector<Passage> passages;
  std::vector<int64_t> ids;
  for (const StoredPassage& p : stored) {
    passages.push_back({p.index, p.begin, p.end});
    ids.push_back(p.id);
  }
  std::vector<float> vectors = store.passage_vectors(ids);
  const TextEncoder& encoder = store.encoder();
  if (vectors.empty()) {  // an approximate index: encode the passages as the store did
    std::vector<std::string> inputs;
    for (const Passage& p : passages) inputs.push_back(passage_input(document.title, document.text, p));
    const at::Tensor encoded = encoder.encode(inputs).contiguous();
    vectors.assign(encoded.data_ptr<float>(), encoded.data_ptr<float>() + encoded.numel());
  }
  if (vectors.size() != passages.size() * static_cast<size_t>(encoder.dimension()))
    throw std::logic_error("passage_relevance: " + std::to_string(vectors.size()) + " floats for " +
                           std::to_string(passages.size()) + " passages");
  return passage_relevance(passages, vectors.data(), encoder.dimension(), question);
}

std::vector<PassageRelevance> passage_relevance(const TextEncoder& encoder, const IndexOptions& options,
                                                const Document& document, const std::string& question) {
  const EncodedDocuments encoded = split_and_encode(encoder, options, {document});
  const at::Tensor q = encoder.encode({question}).contiguous();
  return passage_relevance(encoded.items.front().passages, encoded.vectors.data(), encoder.dimension(),
                           q.data_ptr<float>());
}

std::vector<float> question_embedding(const Store& store, const std::string& question) {
  const at::Tensor encoded = store.encoder().encode({question}).contiguous();
  return {encoded.data_ptr<float>(), encoded.data_ptr<float>() + encoded.numel()};
}

}  // namespace longqa::retriever
