// The PostgreSQL store against a real PostgreSQL with pgvector and pg_trgm, started by
// tests/postgres/with_postgres.py (LONGQA_TEST_POSTGRES holds its connection string). Each
// case works in a schema of its own. What the embedded store does is the reference: the same
// documents give the same passages, texts and nearest passages in both.
#include <libpq-fe.h>
#include <unistd.h>

#include <ATen/core/Tensor.h>
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include "longqa/common/errors.h"
#include "longqa/index.h"
#include "longqa/postgres_store.h"
#include "longqa/retriever.h"
#include "retriever_fixtures.h"

using namespace longqa;
using namespace longqa::retriever;
using longqa::test::encoders;
using longqa::test::error_of;
using longqa::test::random_documents;
using longqa::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string server_url() {
  const char* url = std::getenv("LONGQA_TEST_POSTGRES");
  if (!url || !*url)
    FAIL("LONGQA_TEST_POSTGRES is not set: run this test through ctest (tests/postgres/with_postgres.py)");
  return url;
}

void run_sql(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  const std::string error = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(conn);
  INFO(error);
  REQUIRE(ok);
}

// A fresh schema for one case, with public (the extensions) after it in the search path.
std::string fresh_schema() {
  static std::atomic<int> counter{0};
  const std::string url = server_url();
  const std::string schema = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  run_sql(url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema);
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema + "%2Cpublic";
}

IndexOptions small_passages(Bm25Tokenization bm25 = Bm25Tokenization::kWordPiece) {
  IndexOptions options;
  options.bm25 = bm25;
  options.passage_tokens = 16;
  options.passage_overlap = 4;
  options.encoder_path = "/models/tiny";
  return options;
}

// The nearest passage of each of a document's passages, searched with its own input.
std::vector<int64_t> self_hits(const Store& store, const Document& doc) {
  std::vector<std::string> inputs;
  std::vector<int64_t> ids;
  for (const StoredPassage& p : store.document_passages(doc.id, false)) {
    inputs.push_back(passage_input(doc.title, doc.text, {p.index, p.begin, p.end}));
    ids.push_back(p.id);
  }
  if (inputs.empty()) return {};
  const at::Tensor q = store.encoder().encode(inputs).contiguous();
  std::vector<int64_t> top;
  for (const auto& hits : store.dense_search(q.data_ptr<float>(), static_cast<int64_t>(inputs.size()), 3))
    top.push_back(hits.empty() ? -1 : hits.front().id);
  return top;
}

std::vector<int64_t> passage_ids(const Store& store, const std::string& id) {
  std::vector<int64_t> ids;
  for (const StoredPassage& p : store.document_passages(id, false)) ids.push_back(p.id);
  return ids;
}

}  // namespace

TEST_CASE("PostgreSQL store: what goes in comes out, as in the embedded store", "[postgres]") {
  const std::string url = fresh_schema();
  auto encoder = test::load_encoder(encoders().a);
  TempDir tmp("longqa-pg-embedded");
  std::mt19937 rng(11);
  std::vector<Document> docs = random_documents(rng, "doc", 12);
  docs[3].metadata_json = R"({"article":3,"paragraph":1})";
  docs[4].html_offsets = {0, 1, 2, 5, 9};
  docs[4].text = "w1 w2";  // 5 bytes: 6 offsets
  docs[4].html_offsets.push_back(12);
  docs[5].title = "";
  docs[6].text = "w3 한국어 w4 문서";  // UTF-8 kept byte for byte

  PostgresStore pg = PostgresStore::create(url, encoder, small_passages());
  Index embedded = Index::create((tmp / "index"), encoder, [] {
    IndexOptions o = small_passages();
    o.factory = "Flat";
    return o;
  }());
  const auto added = pg.add(docs);
  embedded.add(docs);
  CHECK(added.documents == 12);
  CHECK(added.replaced == 0);
  CHECK(pg.stats().documents == 12);
  CHECK(pg.stats().passages == added.passages);
  CHECK(pg.stats().passages == embedded.stats().passages);

  for (const Document& doc : docs) {
    CAPTURE(doc.id);
    const auto stored = pg.document(doc.id);
    REQUIRE(stored);
    CHECK(stored->title == doc.title);
    CHECK(stored->text == doc.text);
    CHECK(stored->metadata_json == doc.metadata_json);
    CHECK(stored->source == doc.source);
    CHECK(stored->html_offsets == doc.html_offsets);
    // The same passages, with the same texts, in both stores.
    const auto a = pg.document_passages(doc.id, true);
    const auto b = embedded.document_passages(doc.id, true);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].index == b[i].index);
      CHECK(a[i].begin == b[i].begin);
      CHECK(a[i].end == b[i].end);
      CHECK(a[i].text == b[i].text);
      CHECK(a[i].title == doc.title);
      CHECK(a[i].document_id == doc.id);
    }
    // Each passage is its own nearest neighbour (HNSW on a dozen documents is exact).
    CHECK(self_hits(pg, doc) == passage_ids(pg, doc.id));
  }
  CHECK_FALSE(pg.document("nope"));
  CHECK(pg.document_passages("nope", true).empty());
  // passages() keeps the order asked and skips ids it does not hold.
  const auto ids = passage_ids(pg, "doc2");
  REQUIRE(ids.size() >= 1);
  const auto some = pg.passages({ids.back(), 987654321, ids.front()}, false);
  REQUIRE(some.size() == 2);
  CHECK(some[0].id == ids.back());
  CHECK(some[1].id == ids.front());

  // The stored vectors are the encoder's. Not bit for bit: add() encoded these passages in a batch
  // with other documents', and a batch's shape picks the GEMM kernel and so the summation order
  // (bit-equal on AVX-512 machines, ~1e-7 apart on AVX2 ones). Storage itself is bit-exact: the
  // export/import case compares stored vectors with ==.
  std::vector<std::string> inputs;
  for (const auto& p : pg.document_passages("doc2", true)) inputs.push_back(passage_input(docs[2].title, docs[2].text, {p.index, p.begin, p.end}));
  const at::Tensor expected = encoder->encode(inputs).contiguous();
  const std::vector<float> stored = pg.passage_vectors(ids);
  REQUIRE(stored.size() == static_cast<size_t>(expected.numel()));
  float largest_difference = 0.0f;
  for (size_t i = 0; i < stored.size(); ++i)
    largest_difference = std::max(largest_difference, std::abs(stored[i] - expected.data_ptr<float>()[i]));
  CHECK(largest_difference < 1e-5f);

  // Full text: a word that only one document holds finds it first.
  const Document unique_doc = test::make_document("rare", "", "w1 w2 zebracorn w3");
  pg.add({unique_doc});
  const auto lexical = pg.bm25_search("where is the zebracorn?", 5);
  REQUIRE_FALSE(lexical.empty());
  CHECK(pg.passages({lexical.front().id}, false).front().document_id == "rare");
  CHECK(pg.bm25_search("", 5).empty());
  CHECK(pg.bm25_search("the of and", 5).empty());  // English stop words only: nothing to match
  CHECK_NOTHROW(pg.bm25_search("it's a \\ back'slash & | ! ( :*", 5));  // tsquery syntax is not injected

  // The retriever over it, fused, finds the document of a passage's own words.
  const Retriever retriever(pg);
  const auto hits = retriever.search(docs[7].text, 3);
  REQUIRE_FALSE(hits.empty());
  CHECK(hits.front().id == "doc7");
}

TEST_CASE("PostgreSQL store: replace, delete, and two replicas see each other's writes", "[postgres]") {
  const std::string url = fresh_schema();
  auto encoder = test::load_encoder(encoders().a);
  std::mt19937 rng(5);
  PostgresStore writer = PostgresStore::create(url, encoder, small_passages());
  PostgresStore other = PostgresStore::open(url, encoder, OpenMode::kReadWrite);  // a second replica
  const PostgresStore reader = PostgresStore::open(url, encoder);

  writer.add(random_documents(rng, "d", 5));
  CHECK(other.stats().documents == 5);  // seen at once: every search reads the tables
  const Document replacement = test::make_document("d2", "new title", "w5 w6 w7 w8 w9");
  const auto old_passages = passage_ids(reader, "d2");
  const auto replaced = other.add({replacement});
  CHECK(replaced.replaced == 1);
  CHECK(reader.document("d2")->title == "new title");
  for (int64_t id : old_passages) CHECK(reader.passages({id}, false).empty());
  CHECK(self_hits(reader, replacement) == passage_ids(reader, "d2"));

  // A document given twice in one call: the later copy wins.
  auto twice = std::vector<Document>{test::make_document("x", "", "w1 w1"), test::make_document("x", "", "w2 w2")};
  writer.add(twice);
  CHECK(reader.document("x")->text == "w2 w2");

  const auto removed = other.remove({"d1", "missing", "d1"});
  CHECK(removed.documents == 1);
  CHECK(removed.passages > 0);
  CHECK(removed.missing == std::vector<std::string>{"missing"});
  CHECK_FALSE(reader.document("d1"));
  CHECK(reader.stats().documents == 5);  // d0 d2 d3 d4 x

  // Read-only refuses writes; export pages through every id in byte order.
  CHECK_THAT(error_of([&] { const_cast<PostgresStore&>(reader).remove({"d0"}); }),
             Catch::Contains("needs the store opened for writing"));
  CHECK(reader.document_ids("", 100) == std::vector<std::string>{"d0", "d2", "d3", "d4", "x"});
  CHECK(reader.document_ids("d2", 2) == std::vector<std::string>{"d3", "d4"});
}

TEST_CASE("PostgreSQL store: concurrent writers through two replicas lose nothing", "[postgres]") {
  const std::string url = fresh_schema();
  auto encoder = test::load_encoder(encoders().a);
  PostgresStore a = PostgresStore::create(url, encoder, small_passages());
  PostgresStore b = PostgresStore::open(url, encoder, OpenMode::kReadWrite);
  // Both replicas write overlapping ids (in opposite orders) from two threads each.
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      PostgresStore& store = t % 2 ? b : a;
      for (int round = 0; round < 5; ++round) {
        std::vector<Document> batch;
        for (int i = 0; i < 6; ++i) {
          const int n = t % 2 ? 5 - i : i;
          batch.push_back(test::make_document("shared" + std::to_string(n), "", test::random_words(rng, 20)));
        }
        batch.push_back(test::make_document("own" + std::to_string(t) + "_" + std::to_string(round), "",
                                            test::random_words(rng, 20)));
        try {
          store.add(std::move(batch));
        } catch (const std::exception& e) {
          UNSCOPED_INFO(e.what());
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(a.stats().documents == 6 + 4 * 5);
  // Every stored document has exactly one set of passages: indexes 0..n-1.
  for (const std::string& id : a.document_ids("", 100)) {
    const auto passages = a.document_passages(id, false);
    REQUIRE_FALSE(passages.empty());
    for (size_t i = 0; i < passages.size(); ++i) CHECK(passages[i].index == static_cast<int64_t>(i));
  }
}

TEST_CASE("PostgreSQL store: Korean text through pg_trgm", "[postgres]") {
  const std::string url = fresh_schema();
  auto encoder = test::load_encoder(encoders().a);
  PostgresStore store = PostgresStore::create(url, encoder, small_passages(Bm25Tokenization::kTrigram));
  store.add({test::make_document("seoul", "", "대한민국의 수도는 서울특별시이다"),
             test::make_document("busan", "", "부산광역시는 대한민국 제2의 도시이다"),
             test::make_document("other", "", "w1 w2 w3 w4")});
  const auto hits = store.bm25_search("대한민국의 수도는 어디인가?", 3);
  REQUIRE_FALSE(hits.empty());
  CHECK(store.passages({hits.front().id}, false).front().document_id == "seoul");
  CHECK(store.info().lexical == "pg_trgm word_similarity");
}

TEST_CASE("PostgreSQL store: refusals say what is wrong", "[postgres]") {
  const std::string url = fresh_schema();
  auto encoder = test::load_encoder(encoders().a);
  CHECK_THAT(error_of([&] { PostgresStore::open(url, encoder); }), Catch::Contains("no longqa store here"));
  PostgresStore::create(url, encoder, small_passages());
  CHECK_THAT(error_of([&] { PostgresStore::create(url, encoder, small_passages()); }),
             Catch::Contains("already holds a longqa store"));
  CHECK_THAT(error_of([&] { PostgresStore::open(url, test::load_encoder(encoders().b)); }),
             Catch::Contains("built with encoder"));
  CHECK(PostgresStore::recorded_encoder_path(url) == "/models/tiny");
  PostgresStore store = PostgresStore::open(url, encoder, OpenMode::kReadWrite);
  Document with_nul = test::make_document("nul", "", std::string("w1\0w2", 5));
  CHECK_THAT(error_of([&] { store.add({with_nul}); }), Catch::Contains("NUL"));
  CHECK_FALSE(store.document("nul"));

  // Connections the server dropped (a restart, an idle timeout): the next read reconnects.
  store.add({test::make_document("kept", "", "w1 w2 w3")});
  run_sql(server_url(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'longqa'");
  CHECK(store.document("kept"));
  CHECK(store.stats().documents == 1);

  // No server there: a clear error naming the location, without its password; the server
  // answers such errors 503 (StoreUnavailableError).
  const std::string unreachable = "postgresql://longqa:s3cret@127.0.0.1:1/nothing?connect_timeout=2";
  CHECK_THROWS_AS(PostgresStore::open(unreachable, encoder), StoreUnavailableError);
  const std::string message = error_of([&] { PostgresStore::open(unreachable, encoder); });
  CHECK_THAT(message, Catch::Contains("cannot connect"));
  CHECK_THAT(message, !Catch::Contains("s3cret"));
  CHECK(redact_connection_string(unreachable) == "postgresql://longqa:***@127.0.0.1:1/nothing?connect_timeout=2");
  CHECK(redact_connection_string("postgres://h/db?user=u&password=pw&sslmode=require") ==
        "postgres://h/db?user=u&password=***&sslmode=require");
  CHECK(is_postgres_location("postgresql://x"));
  CHECK_FALSE(is_postgres_location("/var/lib/index"));
}

TEST_CASE("export and import move an index between the embedded store and PostgreSQL", "[postgres]") {
  const std::string url = fresh_schema();
  auto encoder = test::load_encoder(encoders().a);
  TempDir tmp("longqa-pg-export");
  std::mt19937 rng(3);
  std::vector<Document> docs = random_documents(rng, "e", 9);
  docs[2].html_offsets = std::vector<int64_t>(docs[2].text.size() + 1, 7);
  docs[4].metadata_json = R"({"url":"https://example.org/x"})";
  Index embedded = Index::create((tmp / "index"), encoder, small_passages());
  embedded.add(docs);
  embedded.remove({"e8"});
  embedded.commit();

  const ExportSummary out = export_store(embedded, (tmp / "export"));
  CHECK(out.documents == 8);
  CHECK(out.vectors);
  PostgresStore pg = PostgresStore::create(url, encoder, small_passages());
  const ImportSummary in = import_store(pg, (tmp / "export"), 3);
  CHECK(in.documents == 8);
  CHECK_FALSE(in.reencoded);
  CHECK(pg.stats().passages == embedded.stats().passages);
  for (const std::string& id : embedded.document_ids("", 100)) {
    CAPTURE(id);
    CHECK(pg.document(id)->text == embedded.document(id)->text);
    CHECK(pg.document(id)->html_offsets == embedded.document(id)->html_offsets);
    CHECK(pg.document(id)->metadata_json == embedded.document(id)->metadata_json);
    CHECK(pg.passage_vectors(passage_ids(pg, id)) == embedded.passage_vectors(passage_ids(embedded, id)));
  }
  CHECK_FALSE(pg.document("e8"));

  // And back: PostgreSQL to a new embedded index, which then answers like the original.
  export_store(pg, (tmp / "export2"));
  Index back = Index::create((tmp / "back"), encoder, small_passages());
  CHECK_FALSE(import_store(back, (tmp / "export2")).reencoded);
  CHECK(back.stats().passages == embedded.stats().passages);
  for (const Document& doc : docs)
    if (doc.id != "e8") CHECK(self_hits(back, doc) == passage_ids(back, doc.id));

  // Other passage settings: the documents are split and encoded again.
  IndexOptions longer = small_passages();
  longer.passage_tokens = 24;
  Index reencoded = Index::create((tmp / "longer"), encoder, longer);
  CHECK(import_store(reencoded, (tmp / "export2")).reencoded);
  CHECK(reencoded.stats().documents == 8);

  // An unfinished export (no export.json) is refused.
  fs::remove(fs::path(tmp / "export") / "export.json");
  CHECK_THAT(error_of([&] { import_store(back, (tmp / "export")); }), Catch::Contains("did not finish"));
}
