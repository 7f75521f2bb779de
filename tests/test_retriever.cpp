// Retriever: dense, BM25 and fused rankings grouped into documents; batches; Korean BM25.
#include <ATen/core/Tensor.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include <fstream>
#include <nlohmann/json.hpp>

#include "longqa/eval_runner.h"
#include "longqa/index.h"
#include "longqa/qa_model.h"
#include "longqa/retriever.h"
#include "longqa/tokenizer.h"
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

TEST_CASE("passage relevance: each stored passage's inner product with the question", "[retriever]") {
  // Flat keeps exact vectors; IVF does not, so its passages are encoded again: the same numbers.
  const std::string factory = GENERATE("Flat", "IVF4,Flat");
  INFO(factory);
  Fixture f(Bm25Tokenization::kWordPiece, factory);
  const std::string question = f.docs[7].text.substr(0, 30);
  const std::vector<float> q = question_embedding(f.index, question);
  const at::Tensor expected_q = f.encoder->encode({question}).contiguous();
  REQUIRE(q.size() == static_cast<size_t>(f.encoder->dimension()));
  for (int64_t k = 0; k < f.encoder->dimension(); ++k) CHECK(q[static_cast<size_t>(k)] == Approx(expected_q.data_ptr<float>()[k]).margin(1e-6));
  for (const size_t d : {size_t{3}, size_t{7}, size_t{39}}) {
    const Document& doc = f.docs[d];
    const auto relevance = passage_relevance(f.index, doc, q.data());
    const auto stored = f.index.document_passages(doc.id, false);
    REQUIRE(relevance.size() == stored.size());
    REQUIRE(stored.size() >= 2);  // passages of 16 tokens over 20+ words
    std::vector<std::string> inputs;
    for (const auto& p : stored) inputs.push_back(passage_input(doc.title, doc.text, {p.index, p.begin, p.end}));
    const at::Tensor passages = f.encoder->encode(inputs).contiguous();
    for (size_t i = 0; i < stored.size(); ++i) {
      CHECK(relevance[i].begin_byte == stored[i].begin);
      CHECK(relevance[i].end_byte == stored[i].end);
      const double dot = (passages[static_cast<int64_t>(i)] * expected_q[0]).sum().item<double>();
      CHECK(relevance[i].relevance == Approx(dot).margin(1e-5));
    }
  }
  // A document the store no longer holds as fetched (replaced by a shorter text, or unknown):
  // its text is cut and encoded as the store would, never an error.
  const TextEncoder& encoder = *f.encoder;
  for (const Document& changed : {test::make_document("no-such-document", "", f.docs[5].text),
                                  test::make_document(f.docs[39].id, "", f.docs[39].text.substr(0, 20))}) {
    const auto got = passage_relevance(f.index, changed, q.data());
    const auto expected = passage_relevance(encoder, f.index.info().options, changed, question);
    REQUIRE(got.size() == expected.size());
    REQUIRE(!got.empty());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].begin_byte == expected[i].begin_byte);
      CHECK(got[i].end_byte <= static_cast<int64_t>(changed.text.size()));
      CHECK(got[i].relevance == Approx(expected[i].relevance).margin(1e-5));
    }
  }
}

TEST_CASE("eval without an index: --encoder scores each article's passages for the passage prior", "[retriever][eval]") {
  TempDir tmp("longqa-eval-prior");
  test::write_tiny_encoder(tmp / "encoder", 4);
  const auto encoder = test::load_encoder(tmp / "encoder");
  std::mt19937 rng(5);
  nlohmann::json paragraphs = nlohmann::json::array();
  for (int p = 0; p < 3; ++p) {
    const std::string context = test::random_words(rng, 40) + " alpha w1 omega " + test::random_words(rng, 40);
    paragraphs.push_back({{"context", context},
                          {"qas", {{{"id", "q" + std::to_string(p)}, {"question", test::random_words(rng, 4)},
                                    {"answers", {{{"text", "alpha w1 omega"}, {"answer_start", context.find("alpha")}}}}}}}});
  }
  const nlohmann::json squad = {{"version", "1.1"}, {"data", {{{"title", "t"}, {"paragraphs", paragraphs}}}}};
  std::ofstream(tmp / "dev.json") << squad.dump();
  const auto data = eval::read_qa_dataset(tmp / "dev.json");

  ModelConfig config;
  config.model_type = "littlebird";
  config.vocab_size = static_cast<int64_t>(test::tiny_vocab().size());
  config.hidden_size = 32;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 4;
  config.intermediate_size = 64;
  config.max_position_embeddings = 512;
  config.max_seq_length = 1024;
  const auto model = std::make_shared<const QaModel>(QaModel::random(config, 3));
  const auto tokenizer = std::make_shared<const Tokenizer>(test::tiny_vocab(), TokenizerOptions{});
  ReaderOptions reader_options;
  reader_options.passage_weight = 7;
  const Reader reader(model, tokenizer, reader_options);

  eval::EvaluationOptions options;
  options.unit = eval::EvalUnit::kArticle;
  options.show_progress = false;
  const auto plain = eval::run_evaluation(data, reader, options);
  options.passage_encoder = encoder;
  options.passage_options.passage_tokens = 24;
  options.passage_options.passage_overlap = 4;
  const auto with_prior = eval::run_evaluation(data, reader, options);
  REQUIRE(with_prior.questions.size() == 3);

  // The article as the runner reads it, its passages as an index would cut them.
  const std::string article = eval::article_text(data, 0).text;
  Document document = test::make_document("", "t", article);
  const auto encoded = split_and_encode(*encoder, options.passage_options, {document});
  REQUIRE(encoded.items.front().passages.size() >= 4);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(plain.questions[i].answers.front().passage_prior == 0);
    const at::Tensor q = encoder->encode({data.questions[i].question}).contiguous();
    const auto relevance = passage_relevance(encoded.items.front().passages, encoded.vectors.data(),
                                             encoder->dimension(), q.data_ptr<float>());
    for (const Answer& a : with_prior.questions[i].answers) {
      double best = -1e300;
      for (const auto& r : relevance)
        if (r.begin_byte <= a.begin_byte && a.begin_byte < r.end_byte) best = std::max(best, r.relevance);
      CHECK(a.passage_prior == Approx(7 * best).margin(1e-6));
    }
  }
}
