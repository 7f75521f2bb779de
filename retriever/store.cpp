// What both stores share: splitting documents into passages and encoding them, and the choice
// of backend by location (longqa/store.h).
#include "longqa/store.h"

#include <ATen/core/Tensor.h>

#include <algorithm>

#include "longqa/index.h"
#include "longqa/postgres_store.h"
#include "longqa/text_encoder.h"
#include "longqa/tokenizer.h"

namespace longqa::retriever {

EncodedDocuments split_and_encode(const TextEncoder& encoder, const IndexOptions& options,
                                  std::vector<Document> documents) {
  const Tokenizer& tokenizer = encoder.tokenizer();
  const int64_t max_tokens = encoder.max_tokens();
  EncodedDocuments out;
  std::vector<std::string> inputs;
  out.items.reserve(documents.size());
  for (Document& doc : documents) {
    const std::vector<Token> tokens = tokenizer.tokenize(doc.text);
    // The encoder reads [CLS] title \n passage [SEP]: the window shrinks by the title so that
    // no passage is cut off at the encoder's length.
    const int64_t title_tokens = static_cast<int64_t>(tokenizer.tokenize(doc.title).size());
    const int64_t window = std::max(std::min(options.passage_tokens, max_tokens - 2 - title_tokens),
                                    std::min<int64_t>(options.passage_tokens, 32));
    const int64_t overlap = std::min(options.passage_overlap, window / 2);
    std::vector<std::pair<int64_t, int64_t>> bytes;
    bytes.reserve(tokens.size());
    for (const Token& t : tokens) bytes.emplace_back(t.begin, t.end);
    DocumentPassages& item = out.items.emplace_back();
    if (!bytes.empty()) item.passages = split_passages(bytes, window, overlap);
    for (const Passage& p : item.passages) inputs.push_back(passage_input(doc.title, doc.text, p));
    item.document = std::move(doc);
  }
  out.vectors.reserve(inputs.size() * static_cast<size_t>(encoder.dimension()));
  for (size_t begin = 0; begin < inputs.size(); begin += kPassagesPerEncode) {
    const std::vector<std::string> chunk(
        inputs.begin() + static_cast<int64_t>(begin),
        inputs.begin() + static_cast<int64_t>(std::min(inputs.size(), begin + kPassagesPerEncode)));
    const at::Tensor encoded = encoder.encode(chunk).contiguous();
    out.vectors.insert(out.vectors.end(), encoded.data_ptr<float>(), encoded.data_ptr<float>() + encoded.numel());
  }
  return out;
}

Store::AddResult Store::add(std::vector<Document> documents) {
  require_writable("add");
  // Encoding (the slow part) happens before anything is written.
  EncodedDocuments encoded = split_and_encode(encoder(), index_options(), std::move(documents));
  return add_encoded(std::move(encoded.items), encoded.vectors.data());
}

bool is_postgres_location(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::unique_ptr<Store> open_store(const std::string& location, std::shared_ptr<const TextEncoder> encoder,
                                  OpenMode mode) {
  if (is_postgres_location(location)) return std::make_unique<PostgresStore>(PostgresStore::open(location, std::move(encoder), mode));
  return std::make_unique<Index>(Index::open(location, std::move(encoder), mode));
}

std::unique_ptr<Store> create_store(const std::string& location, std::shared_ptr<const TextEncoder> encoder,
                                    const IndexOptions& options) {
  if (is_postgres_location(location))
    return std::make_unique<PostgresStore>(PostgresStore::create(location, std::move(encoder), options));
  return std::make_unique<Index>(Index::create(location, std::move(encoder), options));
}

std::string recorded_encoder_path(const std::string& location) {
  if (is_postgres_location(location)) return PostgresStore::recorded_encoder_path(location);
  return Manifest::read(location).encoder_path;
}

}  // namespace longqa::retriever
