// The PostgreSQL + pgvector store (longqa/postgres_store.h), through libpq.
#include "longqa/postgres_store.h"

#include <arpa/inet.h>
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "longqa/common/errors.h"
#include "longqa/text_encoder.h"

namespace longqa::retriever {
namespace {

constexpr const char* kFormat = "longqa-postgres";
constexpr int kFormatVersion = 1;
constexpr int64_t kMaxDimension = 2000;     // pgvector's HNSW limit for `vector`
constexpr int64_t kMaxEfSearch = 1000;      // pgvector's limit for hnsw.ef_search
constexpr int64_t kDefaultEfSearch = 200;   // above the retriever's 100 candidates
constexpr int64_t kPoolSize = 16;           // connections per store (per replica)
constexpr int kWriteAttempts = 5;           // a transaction retried after a deadlock or serialisation failure
// pg_trgm: word_similarity(question, passage) above this is a candidate. Questions share few
// trigrams with any one passage, so the default 0.6 would find almost nothing.
constexpr const char* kTrigramThreshold = "0.1";

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

struct PgError : std::runtime_error {
  PgError(const std::string& message, std::string state) : std::runtime_error(message), sqlstate(std::move(state)) {}
  std::string sqlstate;  // "40P01" (deadlock), "23505" (unique violation), ... ; empty for a lost connection
};

// Query parameters: text (format 0) or binary (format 1) values kept alive until the call.
class Params {
 public:
  Params& text(std::string value) { return add(std::move(value), 0); }
  Params& integer(int64_t value) { return add(std::to_string(value), 0); }
  Params& binary(std::string bytes) { return add(std::move(bytes), 1); }
  Params& null() {
    values_.emplace_back();
    formats_.push_back(0);
    nulls_.push_back(true);
    return *this;
  }
  Result run(PGconn* conn, const char* sql, int result_format = 0) const {
    // Without parameters: the simple protocol, which also runs several ';'-separated commands.
    if (values_.empty() && result_format == 0) return Result(PQexec(conn, sql));
    std::vector<const char*> values;
    std::vector<int> lengths;
    for (size_t i = 0; i < values_.size(); ++i) {
      values.push_back(nulls_[i] ? nullptr : values_[i].data());
      lengths.push_back(static_cast<int>(values_[i].size()));
    }
    return Result(PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr, values.data(), lengths.data(),
                               formats_.data(), result_format));
  }

 private:
  Params& add(std::string value, int format) {
    values_.push_back(std::move(value));
    formats_.push_back(format);
    nulls_.push_back(false);
    return *this;
  }
  std::deque<std::string> values_;
  std::vector<int> formats_;
  std::vector<bool> nulls_;
};

// Throws PgError unless the result is a success; StoreUnavailableError when the connection is gone.
Result checked(Result result, PGconn* conn, const std::string& where) {
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    throw StoreUnavailableError(where + ": connection lost: " + message);
  }
  const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
  std::string message = result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  throw PgError(where + ": " + message, state ? state : "");
}

Result exec(PGconn* conn, const std::string& where, const char* sql, const Params& params = {}, int result_format = 0) {
  return checked(params.run(conn, sql, result_format), conn, where);
}

std::string value(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}
int64_t integer(const PGresult* r, int row, int col) { return std::stoll(PQgetvalue(r, row, col)); }

// pgvector's binary form: dimension and an unused word (uint16 each), then float4s, all big-endian.
std::string vector_binary(const float* v, int64_t dimension) {
  std::string out(4 + 4 * static_cast<size_t>(dimension), '\0');
  const uint16_t header[2] = {htons(static_cast<uint16_t>(dimension)), 0};
  std::memcpy(out.data(), header, 4);
  for (int64_t i = 0; i < dimension; ++i) {
    uint32_t bits;
    std::memcpy(&bits, v + i, 4);
    bits = htonl(bits);
    std::memcpy(out.data() + 4 + 4 * i, &bits, 4);
  }
  return out;
}

// "[0.1,0.2,...]" (pgvector's text output, shortest round-trip decimals) into floats.
void parse_vector(const char* text, float* out, int64_t dimension, const std::string& where) {
  const char* p = text;
  if (*p++ != '[') throw std::runtime_error(where + ": not a vector: " + std::string(text).substr(0, 40));
  for (int64_t i = 0; i < dimension; ++i) {
    char* end = nullptr;
    out[i] = std::strtof(p, &end);
    if (end == p) throw std::runtime_error(where + ": a vector of another dimension");
    p = end + 1;  // ',' or ']'
  }
}

// "{1,2,3}": a bigint[] parameter in text form.
std::string bigint_array(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "}";
}

std::string offsets_bytes(const std::vector<int64_t>& offsets) {
  if (offsets.empty()) return {};
  return std::string(reinterpret_cast<const char*>(offsets.data()), offsets.size() * sizeof(int64_t));
}

std::vector<int64_t> offsets_of(const std::string& bytes) {
  std::vector<int64_t> out(bytes.size() / sizeof(int64_t));
  if (out.empty()) return out;  // memcpy must not see the empty vector's null pointer
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(int64_t));
  return out;
}

// The passage's own bytes out of its input text (passage_input: the title and a newline first).
std::string passage_text(const std::string& title, std::string input) {
  return title.empty() ? input : input.substr(std::min(input.size(), title.size() + 1));
}

// PostgreSQL text cannot hold NUL bytes: refused with the document's id rather than cut.
void require_no_nul(const Document& doc) {
  for (const std::string* field : {&doc.id, &doc.title, &doc.text, &doc.metadata_json, &doc.source})
    if (field->find('\0') != std::string::npos)
      throw std::invalid_argument("document '" + doc.id.substr(0, doc.id.find('\0')) +
                                  "': PostgreSQL text cannot hold NUL bytes");
}

}  // namespace

std::string redact_connection_string(const std::string& location) {
  // postgresql://user:secret@host/...  and  ...?password=secret&...
  static const std::regex userinfo(R"(^(postgres(?:ql)?://[^:/@?]*):[^@/?]*@)");
  static const std::regex password(R"(([?&]password=)[^&]*)");
  return std::regex_replace(std::regex_replace(location, userinfo, "$1:***@"), password, "$1***");
}

// Connections, opened as callers need them (up to kPoolSize) and reused; one caller at a time each.
struct PostgresStore::Pool {
  std::string location, redacted;
  std::mutex mutex;
  std::condition_variable available;
  std::vector<PGconn*> idle;
  int64_t open = 0;
  std::unordered_map<PGconn*, int64_t> ef_search;  // the session's hnsw.ef_search
  int64_t breadth = kDefaultEfSearch;

  explicit Pool(std::string loc) : location(std::move(loc)), redacted(redact_connection_string(location)) {}
  ~Pool() {
    for (PGconn* c : idle) PQfinish(c);
  }

  PGconn* connect() {
    // Defaults first: what the connection string says wins.
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "longqa", location.c_str(), nullptr};
    PGconn* conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn);
      PQfinish(conn);
      while (!message.empty() && message.back() == '\n') message.pop_back();
      throw StoreUnavailableError(redacted + ": cannot connect: " + message);
    }
    PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // "extension exists, skipping" and the like
    try {
      exec(conn, redacted,
           (std::string("SET hnsw.ef_search = ") + std::to_string(kDefaultEfSearch) +
            "; SET pg_trgm.word_similarity_threshold = " + kTrigramThreshold)
               .c_str());
    } catch (...) {
      PQfinish(conn);
      throw;
    }
    return conn;
  }

  // A connection for one caller; back to the pool when the lease ends (closed if it broke).
  class Lease {
   public:
    explicit Lease(Pool& pool) : pool_(pool), conn_(pool.take()) {}
    ~Lease() { pool_.give_back(conn_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    PGconn* get() const { return conn_; }

   private:
    Pool& pool_;
    PGconn* conn_;
  };

  PGconn* take() {
    std::unique_lock<std::mutex> lock(mutex);
    available.wait(lock, [&] { return !idle.empty() || open < kPoolSize; });
    if (!idle.empty()) {
      PGconn* c = idle.back();
      idle.pop_back();
      return c;
    }
    ++open;
    lock.unlock();
    try {
      return connect();
    } catch (...) {
      lock.lock();
      --open;
      available.notify_one();
      throw;
    }
  }

  void give_back(PGconn* conn) {
    std::lock_guard<std::mutex> lock(mutex);
    if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE) {
      idle.push_back(conn);
    } else {
      ef_search.erase(conn);
      PQfinish(conn);
      --open;
    }
    available.notify_one();
  }

  // A read: run again once on a fresh connection when the connection was lost (a restarted
  // server, a dropped idle connection).
  template <class F>
  auto read(F&& body) {
    for (int attempt = 0;; ++attempt) {
      Lease lease(*this);
      try {
        return body(lease.get());
      } catch (const StoreUnavailableError&) {
        if (attempt == 0) continue;
        throw;
      }
    }
  }

  // One transaction, retried after a deadlock or a serialisation failure between writers.
  template <class F>
  auto write(F&& body) {
    for (int attempt = 1;; ++attempt) {
      Lease lease(*this);
      PGconn* c = lease.get();
      try {
        exec(c, redacted, "BEGIN");
        auto result = body(c);
        exec(c, redacted, "COMMIT");
        return result;
      } catch (const PgError& e) {
        if (PQtransactionStatus(c) != PQTRANS_IDLE) Result(PQexec(c, "ROLLBACK"));
        const bool retry = e.sqlstate == "40P01" || e.sqlstate == "40001";
        if (!retry || attempt >= kWriteAttempts) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt));
      } catch (...) {
        if (PQtransactionStatus(c) != PQTRANS_IDLE) Result(PQexec(c, "ROLLBACK"));
        throw;
      }
    }
  }

  // Passages and their mean length in distinct lexemes, for BM25: counted at most once a
  // minute (BM25 needs them roughly, and a count is a scan).
  std::pair<int64_t, double> passage_stats(const std::string& where) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stats_time.time_since_epoch().count() && std::chrono::steady_clock::now() - stats_time < std::chrono::seconds(60))
        return stats;
    }
    auto fresh = read([&](PGconn* c) {
      Result r = exec(c, where, "SELECT count(*), coalesce(avg(length(lexemes)), 1) FROM longqa_passages");
      return std::make_pair(integer(r.get(), 0, 0), std::max(1.0, std::strtod(PQgetvalue(r.get(), 0, 1), nullptr)));
    });
    std::lock_guard<std::mutex> lock(mutex);
    stats = fresh;
    // A store with few passages is recounted at once: it is growing, and counting it is cheap.
    stats_time = fresh.first < 10000 ? std::chrono::steady_clock::time_point() : std::chrono::steady_clock::now();
    return stats;
  }
  std::pair<int64_t, double> stats{0, 1.0};
  std::chrono::steady_clock::time_point stats_time;

  // hnsw.ef_search of this session at least k (pgvector returns at most ef_search rows).
  void ensure_ef_search(PGconn* c, int64_t k) {
    const int64_t wanted = std::min(kMaxEfSearch, std::max(k, breadth));
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = ef_search.find(c);
      if (it != ef_search.end() && it->second == wanted) return;
    }
    exec(c, redacted, ("SET hnsw.ef_search = " + std::to_string(wanted)).c_str());
    std::lock_guard<std::mutex> lock(mutex);
    ef_search[c] = wanted;
  }
};

namespace {

std::unordered_map<std::string, std::string> read_meta(PGconn* c, const std::string& where) {
  Result exists = exec(c, where, "SELECT to_regclass('longqa_meta') IS NOT NULL");
  if (value(exists.get(), 0, 0) != "t")
    throw std::invalid_argument(where + ": no longqa store here (no longqa_meta table in the search path); "
                                "create one with `longqa index build --store ...`");
  Result rows = exec(c, where, "SELECT key, value FROM longqa_meta");
  std::unordered_map<std::string, std::string> meta;
  for (int i = 0; i < PQntuples(rows.get()); ++i) meta[value(rows.get(), i, 0)] = value(rows.get(), i, 1);
  if (meta["format"] != kFormat)
    throw std::invalid_argument(where + ": longqa_meta is not a longqa store's (format '" + meta["format"] + "')");
  if (meta["format_version"] != std::to_string(kFormatVersion))
    throw std::invalid_argument(where + ": store format version " + meta["format_version"] + ", this build reads " +
                                std::to_string(kFormatVersion));
  return meta;
}

StoreInfo info_from_meta(std::unordered_map<std::string, std::string> meta, const std::string& redacted) {
  StoreInfo info;
  info.backend = "postgresql";
  info.location = redacted;
  info.encoder_id = meta["encoder_id"];
  info.encoder_path = meta["encoder_path"];
  info.dimension = std::stoll(meta["dimension"]);
  info.options.encoder_path = info.encoder_path;
  info.options.bm25 = parse_bm25_tokenization(meta["lexical"]);
  info.options.passage_tokens = std::stoll(meta["passage_tokens"]);
  info.options.passage_overlap = std::stoll(meta["passage_overlap"]);
  info.options.factory = "hnsw";
  info.dense = "pgvector hnsw (vector_ip_ops)";
  info.lexical = info.options.bm25 == Bm25Tokenization::kTrigram ? "pg_trgm word_similarity"
                                                                   : "postgresql full text (english)";
  info.created = meta["created"];
  info.updated = info.created;
  return info;
}

}  // namespace

PostgresStore::PostgresStore(std::unique_ptr<Pool> pool, std::shared_ptr<const TextEncoder> encoder, StoreInfo info,
                             bool writable)
    : pool_(std::move(pool)), encoder_(std::move(encoder)), info_(std::move(info)), writable_(writable) {}
PostgresStore::PostgresStore(PostgresStore&&) noexcept = default;
PostgresStore& PostgresStore::operator=(PostgresStore&&) noexcept = default;
PostgresStore::~PostgresStore() = default;

PostgresStore PostgresStore::create(const std::string& location, std::shared_ptr<const TextEncoder> encoder,
                                    const IndexOptions& options) {
  auto pool = std::make_unique<Pool>(location);
  const std::string& where = pool->redacted;
  const int64_t d = encoder->dimension();
  if (d > kMaxDimension)
    throw std::invalid_argument(where + ": pgvector's HNSW index holds at most " + std::to_string(kMaxDimension) +
                                " dimensions; this encoder has " + std::to_string(d));
  const bool trigram = options.bm25 == Bm25Tokenization::kTrigram;
  pool->write([&](PGconn* c) {
    Result exists = exec(c, where, "SELECT to_regclass('longqa_meta') IS NOT NULL");
    if (value(exists.get(), 0, 0) == "t")
      throw std::invalid_argument(where + ": already holds a longqa store (longqa_meta exists); open it with "
                                  "`index add`, or use another database or schema");
    exec(c, where, "CREATE EXTENSION IF NOT EXISTS vector; CREATE EXTENSION IF NOT EXISTS pg_trgm");
    const std::string dim = std::to_string(d);
    const std::string ddl =
        "CREATE TABLE longqa_meta(key text PRIMARY KEY, value text NOT NULL);"
        "CREATE TABLE longqa_documents(id text PRIMARY KEY, title text NOT NULL, body text NOT NULL,"
        " metadata text NOT NULL, source text NOT NULL, html_offsets bytea, added timestamptz NOT NULL DEFAULT now());"
        "CREATE TABLE longqa_passages(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " document_id text NOT NULL REFERENCES longqa_documents(id) ON DELETE CASCADE,"
        " idx integer NOT NULL, begin_byte bigint NOT NULL, end_byte bigint NOT NULL, input text NOT NULL,"
        " embedding vector(" + dim + ") NOT NULL" +
        (trigram ? "" : ", lexemes tsvector GENERATED ALWAYS AS (to_tsvector('english', input)) STORED") + ");"
        "CREATE INDEX longqa_passages_document ON longqa_passages(document_id, idx);"
        "CREATE INDEX longqa_passages_embedding ON longqa_passages USING hnsw (embedding vector_ip_ops);" +
        (trigram ? "CREATE INDEX longqa_passages_trigrams ON longqa_passages USING gin (input gin_trgm_ops);"
                 : "CREATE INDEX longqa_passages_lexemes ON longqa_passages USING gin (lexemes);");
    exec(c, where, ddl.c_str());
    const std::pair<std::string, std::string> meta[] = {
        {"format", kFormat},
        {"format_version", std::to_string(kFormatVersion)},
        {"encoder_id", encoder->id()},
        {"encoder_path", options.encoder_path},
        {"dimension", dim},
        {"lexical", to_string(options.bm25)},
        {"passage_tokens", std::to_string(options.passage_tokens)},
        {"passage_overlap", std::to_string(options.passage_overlap)},
    };
    for (const auto& kv : meta)
      exec(c, where, "INSERT INTO longqa_meta(key, value) VALUES($1, $2)", Params().text(kv.first).text(kv.second));
    exec(c, where,
         "INSERT INTO longqa_meta(key, value) VALUES('created', to_char(now() AT TIME ZONE 'UTC', "
         "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))");
    return 0;
  });
  return open(location, std::move(encoder), OpenMode::kReadWrite);
}

PostgresStore PostgresStore::open(const std::string& location, std::shared_ptr<const TextEncoder> encoder,
                                  OpenMode mode) {
  auto pool = std::make_unique<Pool>(location);
  const std::string where = pool->redacted;
  auto meta = pool->read([&](PGconn* c) { return read_meta(c, where); });
  if (meta["encoder_id"] != encoder->id())
    throw std::invalid_argument(where + ": built with encoder " + meta["encoder_id"] + " (" + meta["encoder_path"] +
                                "), not with " + encoder->id() + ": its vectors would not match the questions'");
  StoreInfo info = info_from_meta(std::move(meta), where);
  if (info.dimension != encoder->dimension())
    throw std::invalid_argument(where + ": vectors of dimension " + std::to_string(info.dimension) +
                                ", the encoder makes " + std::to_string(encoder->dimension()));
  return PostgresStore(std::move(pool), std::move(encoder), std::move(info), mode == OpenMode::kReadWrite);
}

std::string PostgresStore::recorded_encoder_path(const std::string& location) {
  Pool pool(location);
  auto meta = pool.read([&](PGconn* c) { return read_meta(c, pool.redacted); });
  return meta["encoder_path"];
}

void PostgresStore::require_writable(const char* what) const {
  if (!writable_) throw std::logic_error(info_.location + ": " + what + " needs the store opened for writing");
}

Store::AddResult PostgresStore::add_encoded(std::vector<DocumentPassages> items, const float* vectors) {
  require_writable("add");
  for (const DocumentPassages& item : items) require_no_nul(item.document);
  const int64_t d = info_.dimension;
  // Writers take document rows in id order, so two replicas adding overlapping batches wait
  // for each other instead of deadlocking (a stable sort: a later copy still replaces an earlier one).
  std::vector<size_t> order(items.size());
  std::vector<int64_t> first_row(items.size());
  int64_t rows = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    order[i] = i;
    first_row[i] = rows;
    rows += static_cast<int64_t>(items[i].passages.size());
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return items[a].document.id < items[b].document.id; });
  const std::string& where = info_.location;
  const int64_t replaced = pool_->write([&](PGconn* c) {
    int64_t replaced_documents = 0;
    for (size_t i : order) {
      const Document& doc = items[i].document;
      Params upsert;
      upsert.text(doc.id).text(doc.title).text(doc.text).text(doc.metadata_json.empty() ? "{}" : doc.metadata_json)
          .text(doc.source);
      if (doc.html_offsets.empty()) upsert.null(); else upsert.binary(offsets_bytes(doc.html_offsets));
      // xmax is set on a row that ON CONFLICT updated: a replacement.
      Result r = exec(c, where,
                      "INSERT INTO longqa_documents(id, title, body, metadata, source, html_offsets)"
                      " VALUES($1, $2, $3, $4, $5, $6::bytea) ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title,"
                      " body = EXCLUDED.body, metadata = EXCLUDED.metadata, source = EXCLUDED.source,"
                      " html_offsets = EXCLUDED.html_offsets, added = now() RETURNING xmax <> 0",
                      upsert);
      if (value(r.get(), 0, 0) == "t") {
        ++replaced_documents;
        exec(c, where, "DELETE FROM longqa_passages WHERE document_id = $1", Params().text(doc.id));
      }
      for (size_t j = 0; j < items[i].passages.size(); ++j) {
        const Passage& p = items[i].passages[j];
        const float* v = vectors + (first_row[i] + static_cast<int64_t>(j)) * d;
        exec(c, where,
             "INSERT INTO longqa_passages(document_id, idx, begin_byte, end_byte, input, embedding)"
             " VALUES($1, $2, $3, $4, $5, $6::vector)",
             Params().text(doc.id).integer(p.index).integer(p.begin).integer(p.end)
                 .text(passage_input(doc.title, doc.text, p)).binary(vector_binary(v, d)));
      }
    }
    return replaced_documents;
  });
  AddResult result;
  result.documents = static_cast<int64_t>(items.size());
  result.replaced = replaced;
  result.passages = rows;
  return result;
}

Store::RemoveResult PostgresStore::remove(const std::vector<std::string>& ids) {
  require_writable("remove");
  const std::string& where = info_.location;
  RemoveResult result;
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  std::vector<bool> found(sorted.size(), false);
  result.passages = pool_->write([&](PGconn* c) {
    int64_t passages = 0;
    for (size_t i = 0; i < sorted.size(); ++i) {
      Result count = exec(c, where, "SELECT count(*) FROM longqa_passages WHERE document_id = $1", Params().text(sorted[i]));
      Result gone = exec(c, where, "DELETE FROM longqa_documents WHERE id = $1", Params().text(sorted[i]));
      found[i] = std::string(PQcmdTuples(gone.get())) == "1";
      if (found[i]) passages += integer(count.get(), 0, 0);
    }
    return passages;
  });
  // An id given twice is deleted once; an id is missing when no copy of it was found.
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (found[i]) ++result.documents;
    const bool first = i == 0 || sorted[i] != sorted[i - 1];
    if (first && !found[i]) result.missing.push_back(sorted[i]);
  }
  return result;
}

std::vector<std::vector<ScoredId>> PostgresStore::dense_search(const float* queries, int64_t n, int64_t k) const {
  std::vector<std::vector<ScoredId>> out(static_cast<size_t>(n));
  if (k <= 0) return out;
  const std::string& where = info_.location;
  pool_->read([&](PGconn* c) {
    pool_->ensure_ef_search(c, k);
    for (int64_t q = 0; q < n; ++q) {
      Result r = exec(c, where,
                      "SELECT id, -(embedding <#> $1::vector) FROM longqa_passages ORDER BY embedding <#> $1::vector"
                      " LIMIT $2",
                      Params().binary(vector_binary(queries + q * info_.dimension, info_.dimension)).integer(k));
      auto& hits = out[static_cast<size_t>(q)];
      hits.clear();
      for (int i = 0; i < PQntuples(r.get()); ++i)
        hits.push_back({integer(r.get(), i, 0), std::strtof(PQgetvalue(r.get(), i, 1), nullptr)});
    }
    return 0;
  });
  return out;
}

std::vector<ScoredId> PostgresStore::bm25_search(const std::string& query, int64_t k) const {
  if (k <= 0 || query.empty() || query.find('\0') != std::string::npos) return {};
  const std::string& where = info_.location;
  if (info_.options.bm25 == Bm25Tokenization::kTrigram) {
    // Korean: trigram word similarity of the question to each passage.
    return pool_->read([&](PGconn* c) {
      Result r = exec(c, where,
                      "SELECT id, word_similarity($1, input) AS s FROM longqa_passages WHERE $1 <% input"
                      " ORDER BY s DESC, id LIMIT $2",
                      Params().text(query).integer(k));
      std::vector<ScoredId> out;
      for (int i = 0; i < PQntuples(r.get()); ++i)
        out.push_back({integer(r.get(), i, 0), std::strtof(PQgetvalue(r.get(), i, 1), nullptr)});
      return out;
    });
  }
  // English: Okapi BM25 (k1 1.2, b 0.75, as FTS5's bm25() in the embedded store) over the
  // question's stemmed lexemes. Candidates are the passages holding any of them (GIN);
  // each lexeme's document frequency is counted through the same index, its term frequency
  // is its number of positions in the passage's tsvector, and a passage's length is its
  // number of distinct lexemes (the collection's mean comes from passage_stats()).
  const auto [passages, mean_length] = pool_->passage_stats(where);
  if (passages == 0) return {};
  return pool_->read([&](PGconn* c) {
    Result r = exec(c, where,
                    "WITH terms AS (SELECT DISTINCT lexeme FROM unnest(tsvector_to_array(to_tsvector('english', $1)))"
                    "   AS lexeme WHERE lexeme !~ '[''\\\\]'),"
                    " frequency AS (SELECT t.lexeme, (SELECT count(*) FROM longqa_passages p"
                    "   WHERE p.lexemes @@ to_tsquery('simple', '''' || t.lexeme || ''''))  AS n FROM terms t),"
                    " idf AS (SELECT lexeme, ln(1 + ($3::float8 - n + 0.5) / (n + 0.5)) AS w FROM frequency WHERE n > 0),"
                    " q AS (SELECT to_tsquery('simple', string_agg('''' || lexeme || '''', ' | ')) AS q FROM idf),"
                    " candidates AS (SELECT p.id, p.lexemes FROM longqa_passages p, q WHERE p.lexemes @@ q.q)"
                    " SELECT c.id, sum(idf.w * cardinality(u.positions) * 2.2 / (cardinality(u.positions) + 1.2 *"
                    "   (0.25 + 0.75 * length(c.lexemes) / $4::float8))) AS s"
                    " FROM candidates c CROSS JOIN LATERAL unnest(c.lexemes) AS u JOIN idf ON idf.lexeme = u.lexeme"
                    " GROUP BY c.id ORDER BY s DESC, c.id LIMIT $2",
                    Params().text(query).integer(k).integer(passages).text(std::to_string(mean_length)));
    std::vector<ScoredId> out;
    for (int i = 0; i < PQntuples(r.get()); ++i)
      out.push_back({integer(r.get(), i, 0), std::strtof(PQgetvalue(r.get(), i, 1), nullptr)});
    return out;
  });
}

std::vector<StoredPassage> PostgresStore::passages(const std::vector<int64_t>& ids, bool with_text) const {
  if (ids.empty()) return {};
  const std::string& where = info_.location;
  std::unordered_map<int64_t, StoredPassage> found = pool_->read([&](PGconn* c) {
    Result r = exec(c, where,
                    with_text ? "SELECT p.id, p.document_id, d.title, p.idx, p.begin_byte, p.end_byte, p.input"
                                " FROM longqa_passages p JOIN longqa_documents d ON d.id = p.document_id"
                                " WHERE p.id = ANY($1::bigint[])"
                              : "SELECT p.id, p.document_id, d.title, p.idx, p.begin_byte, p.end_byte"
                                " FROM longqa_passages p JOIN longqa_documents d ON d.id = p.document_id"
                                " WHERE p.id = ANY($1::bigint[])",
                    Params().text(bigint_array(ids)));
    std::unordered_map<int64_t, StoredPassage> rows;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      StoredPassage p;
      p.id = integer(r.get(), i, 0);
      p.document_id = value(r.get(), i, 1);
      p.title = value(r.get(), i, 2);
      p.index = integer(r.get(), i, 3);
      p.begin = integer(r.get(), i, 4);
      p.end = integer(r.get(), i, 5);
      if (with_text) p.text = passage_text(p.title, value(r.get(), i, 6));
      rows.emplace(p.id, std::move(p));
    }
    return rows;
  });
  std::vector<StoredPassage> out;  // in the order asked; ids that do not exist are skipped
  for (int64_t id : ids) {
    auto it = found.find(id);
    if (it != found.end()) out.push_back(it->second);
  }
  return out;
}

std::optional<Document> PostgresStore::document(const std::string& id) const {
  if (id.find('\0') != std::string::npos) return std::nullopt;
  const std::string& where = info_.location;
  return pool_->read([&](PGconn* c) -> std::optional<Document> {
    // Binary results: text columns as their bytes, html_offsets as raw bytea.
    Result r = exec(c, where,
                    "SELECT id, title, body, metadata, source, coalesce(html_offsets, ''::bytea)"
                    " FROM longqa_documents WHERE id = $1",
                    Params().text(id), 1);
    if (PQntuples(r.get()) == 0) return std::nullopt;
    Document doc;
    doc.id = value(r.get(), 0, 0);
    doc.title = value(r.get(), 0, 1);
    doc.text = value(r.get(), 0, 2);
    doc.metadata_json = value(r.get(), 0, 3);
    doc.source = value(r.get(), 0, 4);
    doc.html_offsets = offsets_of(value(r.get(), 0, 5));
    return doc;
  });
}

std::vector<StoredPassage> PostgresStore::document_passages(const std::string& id, bool with_text) const {
  if (id.find('\0') != std::string::npos) return {};
  const std::string& where = info_.location;
  const std::vector<int64_t> ids = pool_->read([&](PGconn* c) {
    Result r = exec(c, where, "SELECT id FROM longqa_passages WHERE document_id = $1 ORDER BY idx", Params().text(id));
    std::vector<int64_t> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(integer(r.get(), i, 0));
    return out;
  });
  return passages(ids, with_text);
}

std::vector<std::string> PostgresStore::document_ids(const std::string& after, int64_t limit) const {
  const std::string& where = info_.location;
  return pool_->read([&](PGconn* c) {
    // COLLATE "C": byte order, as the embedded store's.
    Result r = exec(c, where,
                    "SELECT id FROM longqa_documents WHERE id COLLATE \"C\" > $1 ORDER BY id COLLATE \"C\" LIMIT $2",
                    Params().text(after).integer(limit));
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(value(r.get(), i, 0));
    return out;
  });
}

std::vector<float> PostgresStore::passage_vectors(const std::vector<int64_t>& ids) const {
  const std::string& where = info_.location;
  const int64_t d = info_.dimension;
  std::vector<float> out(ids.size() * static_cast<size_t>(d));
  if (ids.empty()) return out;
  pool_->read([&](PGconn* c) {
    Result r = exec(c, where, "SELECT id, embedding::text FROM longqa_passages WHERE id = ANY($1::bigint[])",
                    Params().text(bigint_array(ids)));
    std::unordered_map<int64_t, int> row;
    for (int i = 0; i < PQntuples(r.get()); ++i) row[integer(r.get(), i, 0)] = i;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = row.find(ids[i]);
      if (it == row.end()) throw std::out_of_range(where + ": no passage " + std::to_string(ids[i]));
      parse_vector(PQgetvalue(r.get(), it->second, 1), out.data() + i * static_cast<size_t>(d), d, where);
    }
    return 0;
  });
  return out;
}

Store::Stats PostgresStore::stats() const {
  const std::string& where = info_.location;
  return pool_->read([&](PGconn* c) {
    Result r = exec(c, where, "SELECT (SELECT count(*) FROM longqa_documents), (SELECT count(*) FROM longqa_passages)");
    Stats s;
    s.documents = integer(r.get(), 0, 0);
    s.passages = integer(r.get(), 0, 1);
    s.dense_vectors = s.passages;
    return s;
  });
}

void PostgresStore::set_search_breadth(int64_t breadth) {
  std::lock_guard<std::mutex> lock(pool_->mutex);
  pool_->breadth = std::clamp<int64_t>(breadth, 1, kMaxEfSearch);
}

}  // namespace longqa::retriever
