// Retriever: dense, BM25 and fused rankings grouped into documents; batches; Korean BM25.
#include <ATen/core/Tensor.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "longqa/index.h"
#include "longqa/retriever.h"
#include "retriever_fixtures.h"

using namespace longqa;
using namespace longqa::retriever;
using longqa::test::TempDir;

namespace {

struct Fixture {
  TempDir tmp{"longqa-retriever"};
  std::shared_ptr<const TextEncoder> encoder;
  std::vector<Document> docs;
  Index index;

  explicit Fixture(Bm25Tokenization bm25 = Bm25Tokenization::kWordPiece, const std::string& factory = "Flat")
      : encoder((test::write_tiny_encoder(tmp / "encoder", 9), test::load_encoder(tmp / "encoder"))),
        index(make(bm25, factory)) {}

  Index make(Bm25Tokenization bm25, const std::string& factory) {
    std::mt19937 rng(17);
    for (int i = 0; i < 40; ++i)
      docs.push_back(test::make_document("doc" + std::to_string(i), "", test::random_words(rng, 20 + i % 40)));
    IndexOptions options;
    options.factory = factory;
    options.bm25 = bm25;
    options.passage_tokens = 16;
    options.passage_overlap = 4;
    Index index = Index::create(tmp / "index", encoder, options);
    index.add(docs);
    index.commit();
    return index;
  }
};

}  // namespace

TEST_CASE("dense, BM25 and fused search find a document from its own text", "[retriever]") {
  Fixture f;
  for (SearchMode mode : {SearchMode::kDense, SearchMode::kBm25, SearchMode::kFused}) {
    CAPTURE(to_string(mode));
    RetrieverOptions options;
    options.mode = mode;
    const Retriever retriever(f.index, options);
    int64_t first = 0;
    for (const auto& doc : f.docs) {
      // The document's first 16 tokens are exactly its first passage.
      size_t end = 0;
      for (int w = 0; w < 16 && end != std::string::npos; ++w) end = doc.text.find(' ', end + 1);
      const std::string question = doc.text.substr(0, end);
      const auto hits = retriever.search(question, 5);
      REQUIRE(!hits.empty());
      CHECK(hits.size() <= 5);
      first += hits[0].id == doc.id;
      for (size_t i = 1; i < hits.size(); ++i) CHECK(hits[i - 1].score >= hits[i].score);
      for (const auto& hit : hits) {
        REQUIRE(!hit.passages.empty());
        CHECK(static_cast<int64_t>(hit.passages.size()) <= options.passages_per_document);
        CHECK(hit.score == hit.passages[0].score);  // a document scores as its best passage
        const auto stored = f.index.document(hit.id);
        REQUIRE(stored);
        for (const auto& p : hit.passages) CHECK(p.text == stored->text.substr(p.begin, p.end - p.begin));
      }
    }
    CHECK(first >= 38);  // of 40
  }
}

TEST_CASE("fused scores are weighted reciprocal ranks", "[retriever]") {
  Fixture f;
  RetrieverOptions options;
  options.rrf_k = 10;
  options.dense_weight = 2.0;
  options.bm25_weight = 0.5;
  const Retriever retriever(f.index, options);
  const auto hits = retriever.search(f.docs[3].text, 10);
  REQUIRE(!hits.empty());
  bool both = false;
  for (const auto& doc : hits) {
    for (const auto& p : doc.passages) {
      const double expected = (p.dense_rank ? 2.0 / (10 + p.dense_rank) : 0) + (p.bm25_rank ? 0.5 / (10 + p.bm25_rank) : 0);
      CHECK(p.score == Approx(expected));
      both = both || (p.dense_rank && p.bm25_rank);
    }
  }
  CHECK(both);
}

TEST_CASE("search_batch equals one search at a time, with or without given embeddings", "[retriever]") {
  Fixture f;
  RetrieverOptions options;
  options.encode_batch = 3;
  const Retriever retriever(f.index, options);
  std::vector<std::string> questions;
  for (int i = 0; i < 7; ++i) questions.push_back(f.docs[static_cast<size_t>(i * 5)].text.substr(0, 40));
  const auto batch = retriever.search_batch(questions, 4);
  const at::Tensor embeddings = f.encoder->encode(questions).contiguous();
  const auto given = retriever.search_batch(questions, embeddings.data_ptr<float>(), 4);
  REQUIRE(batch.size() == questions.size());
  for (size_t i = 0; i < questions.size(); ++i) {
    const auto single = retriever.search(questions[i], 4);
    REQUIRE(single.size() == batch[i].size());
    REQUIRE(given[i].size() == batch[i].size());
    for (size_t j = 0; j < single.size(); ++j) {
      CHECK(single[j].id == batch[i][j].id);
      CHECK(given[i][j].id == batch[i][j].id);
      CHECK(single[j].score == Approx(batch[i][j].score).epsilon(1e-5));
    }
  }
  CHECK(retriever.search_batch({}, 4).empty());
}

TEST_CASE("deleted documents are never returned", "[retriever]") {
  const std::string factory = GENERATE("Flat", "HNSW32");
  CAPTURE(factory);
  Fixture f(Bm25Tokenization::kWordPiece, factory);
  {
    Index writer = std::move(f.index);
    writer.remove({"doc1", "doc2", "doc3"});
    writer.commit();
  }
  const Index index = Index::open(f.tmp / "index", f.encoder);
  const Retriever retriever(index);
  for (int i = 1; i <= 3; ++i) {
    for (const auto& hit : retriever.search(f.docs[static_cast<size_t>(i)].text, 40)) {
      CHECK(hit.id != "doc1");
      CHECK(hit.id != "doc2");
      CHECK(hit.id != "doc3");
    }
  }
}

TEST_CASE("BM25 over trigrams finds Korean words inside longer words", "[retriever]") {
  TempDir tmp("longqa-retriever");
  test::write_tiny_encoder(tmp / "encoder", 4);
  auto encoder = test::load_encoder(tmp / "encoder");
  {
    Index index = Index::create(tmp / "index", encoder, IndexOptions{});  // wordpiece BM25
    index.add({test::make_document("seoul", "서울", "서울특별시는 대한민국의 수도이자 최대 도시이다."),
               test::make_document("busan", "부산", "부산광역시는 대한민국 남동부에 있는 광역시이다."),
               test::make_document("tokyo", "도쿄", "도쿄도는 일본의 수도이며 인구가 가장 많은 도시이다.")});
    index.commit();
    RetrieverOptions bm25;
    bm25.mode = SearchMode::kBm25;
    // The tiny vocabulary has no Korean: every piece is [UNK], so WordPiece BM25 has no terms.
    CHECK(Retriever(index, bm25).search("대한민국의 수도는 어디인가?", 3).empty());
    index.set_bm25_tokenization(Bm25Tokenization::kTrigram);  // no re-encoding
  }
  const Index index = Index::open(tmp / "index", encoder);
  CHECK(index.manifest().options.bm25 == Bm25Tokenization::kTrigram);
  RetrieverOptions bm25;
  bm25.mode = SearchMode::kBm25;
  const Retriever retriever(index, bm25);
  // Particles are attached ("대한민국의", "수도이자"): only subword terms match.
  auto top = retriever.search("대한민국의 수도는 어디인가?", 3);
  REQUIRE(!top.empty());
  CHECK(top[0].id == "seoul");
  top = retriever.search("일본의 수도", 3);
  REQUIRE(!top.empty());
  CHECK(top[0].id == "tokyo");
  top = retriever.search("남동부 광역시", 3);
  REQUIRE(!top.empty());
  CHECK(top[0].id == "busan");
  CHECK(retriever.search("?!", 3).empty());  // no terms, no results
}
