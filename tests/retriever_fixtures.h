// Fixtures of the index and retriever tests: a tiny random text encoder, made on the spot,
// and documents of random words from its vocabulary.
#pragma once
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "longqa/corpus.h"
#include "longqa/model_config.h"
#include "longqa/qa_model.h"
#include "longqa/text_encoder.h"
#include "test_util.h"

namespace longqa::test {

// A BERT of 2 layers, hidden size 32, random weights, with tiny_vocab(): mean pooling,
// normalised (TextEncoder's defaults without a sentence-transformers layout).
inline void write_tiny_encoder(const std::filesystem::path& dir, uint64_t seed) {
  ModelConfig config;
  config.model_type = "bert";
  config.vocab_size = static_cast<int64_t>(tiny_vocab().size());
  config.hidden_size = 32;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.intermediate_size = 64;
  config.max_position_embeddings = 128;
  QaModel::random(config, seed).save(dir.string());
  write_vocab(dir, tiny_vocab());
}

inline std::shared_ptr<const TextEncoder> load_encoder(const std::filesystem::path& dir) {
  return std::make_shared<const TextEncoder>(TextEncoder::load(dir.string()));
}

// "w12 w7 w180 ...": words of the tiny vocabulary.
inline std::string random_words(std::mt19937& rng, int count) {
  std::uniform_int_distribution<int> word(0, 199);
  std::string text;
  for (int i = 0; i < count; ++i) text += (i ? " w" : "w") + std::to_string(word(rng));
  return text;
}

inline retriever::Document make_document(const std::string& id, const std::string& title, const std::string& text) {
  retriever::Document doc;
  doc.id = id;
  doc.title = title;
  doc.text = text;
  doc.metadata_json = "{}";
  doc.source = "test";
  return doc;
}

// `count` documents "<prefix><i>" of 10 to 39 random words, titled "title <i>".
inline std::vector<retriever::Document> random_documents(std::mt19937& rng, const std::string& prefix, int count) {
  std::vector<retriever::Document> docs;
  for (int i = 0; i < count; ++i)
    docs.push_back(make_document(prefix + std::to_string(i), "title " + std::to_string(i),
                                 random_words(rng, 10 + static_cast<int>(rng() % 30))));
  return docs;
}

// Two tiny encoders with different weights (a: seed 1, b: seed 2), made once per process.
struct EncoderDirs {
  TempDir dir{"longqa-encoders"};
  std::string a = dir / "encoder-a", b = dir / "encoder-b";
  EncoderDirs() {
    write_tiny_encoder(a, 1);
    write_tiny_encoder(b, 2);
  }
};
inline const EncoderDirs& encoders() {
  static const EncoderDirs dirs;
  return dirs;
}

}  // namespace longqa::test
