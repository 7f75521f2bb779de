// Documents, passages and their BM25 index in SQLite (FTS5).
#include "longqa/docstore.h"

#include <sqlite3.h>
#include <utf8proc.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <unordered_set>

#include "longqa/tokenizer.h"

namespace longqa::retriever {
namespace {

constexpr const char* kFormat = "longqa-docstore";
constexpr int kFormatVersion = 1;

// A prepared statement; errors name the database file and the SQL's purpose.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail(std::string("cannot prepare '") + sql + "'");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, int64_t value) { return check(sqlite3_bind_int64(stmt_, i, value)); }
  Statement& bind(int i, const std::string& value) {
    return check(sqlite3_bind_text(stmt_, i, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT));
  }
  Statement& bind_blob(int i, const void* data, size_t bytes) {
    return check(bytes == 0 ? sqlite3_bind_null(stmt_, i)
                            : sqlite3_bind_blob64(stmt_, i, data, bytes, SQLITE_TRANSIENT));
  }
  // True while there is a row.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail(std::string("'") + sqlite3_sql(stmt_) + "' failed");
    return false;
  }
  void run() {
    while (step()) {
    }
    reset();
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const { return sqlite3_column_double(stmt_, column); }
  std::string text(int column) const {
    const void* data = sqlite3_column_blob(stmt_, column);
    return data ? std::string(static_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
                : std::string();
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) fail("cannot bind a value");
    return *this;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(path_ + ": " + what + ": " + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* stmt_ = nullptr;
};

void exec(sqlite3* db, const std::string& path, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    throw std::runtime_error(path + ": " + text);
  }
}

// BEGIN IMMEDIATE (the write lock up front, so that no other writer interleaves) ... COMMIT;
// rolled back when an exception leaves the scope.
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path) : db_(db), path_(path) { exec(db, path, "BEGIN IMMEDIATE"); }
  void commit() {
    exec(db_, path_, "COMMIT");
    done_ = true;
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  bool done_ = false;
};

// A stable fingerprint of a tokenizer's vocabulary and settings (FNV-1a 64): BM25 terms are
// token ids, so a docstore must be searched with the tokenizer that built it.
std::string vocabulary_fingerprint(const Tokenizer& tokenizer) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto feed = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;
  };
  for (const auto& token : tokenizer.vocab()) feed(token);
  const auto& options = tokenizer.options();
  feed(std::to_string(options.lowercase) + std::to_string(options.strip_accents) +
       std::to_string(options.tokenize_chinese_chars));
  char text[20];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(h));
  return text;
}

bool is_word_char(char32_t cp) {
  const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_NO;  // letters, marks, numbers
}

bool has_word_char(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const Utf8Char c = decode_utf8(text, i);
    if (is_word_char(c.cp)) return true;
    i += c.length;
  }
  return false;
}

// FTS5 string literal.
std::string quoted(const std::string& term) {
  std::string out = "\"";
  for (char c : term) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string join_or(const std::vector<std::string>& terms) {
  std::string out;
  for (const auto& t : terms) out += (out.empty() ? "" : " OR ") + t;
  return out;
}

std::vector<int64_t> decode_offsets(const std::string& blob) {
  std::vector<int64_t> out(blob.size() / sizeof(int64_t));
  if (out.empty()) return out;  // memcpy must not see the empty vector's null pointer
  std::memcpy(out.data(), blob.data(), out.size() * sizeof(int64_t));
  return out;
}

}  // namespace

std::string to_string(Bm25Tokenization tokenization) {
  return tokenization == Bm25Tokenization::kWordPiece ? "wordpiece" : "trigram";
}

Bm25Tokenization parse_bm25_tokenization(const std::string& name) {
  if (name == "wordpiece") return Bm25Tokenization::kWordPiece;
  if (name == "trigram") return Bm25Tokenization::kTrigram;
  throw std::invalid_argument("unknown BM25 tokenization '" + name + "' (expected wordpiece or trigram)");
}

std::string passage_input(const std::string& title, const std::string& text, const Passage& passage) {
  std::string input = title.empty() ? std::string() : title + "\n";
  return input.append(text, static_cast<size_t>(passage.begin), static_cast<size_t>(passage.end - passage.begin));
}

void Docstore::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

Docstore::Docstore(std::string path, std::unique_ptr<sqlite3, Closer> db, Bm25Tokenization tokenization,
                   const Tokenizer* wordpiece)
    : path_(std::move(path)),
      db_(std::move(db)),
      tokenization_(tokenization),
      wordpiece_(wordpiece),
      mutex_(std::make_unique<std::mutex>()) {
  if (tokenization_ == Bm25Tokenization::kWordPiece && !wordpiece_)
    throw std::invalid_argument(path_ + ": wordpiece BM25 needs the encoder's tokenizer");
}

Docstore::Docstore(Docstore&&) noexcept = default;
Docstore& Docstore::operator=(Docstore&&) noexcept = default;
Docstore::~Docstore() = default;

Docstore Docstore::create(const std::string& path, Bm25Tokenization tokenization, const Tokenizer* wordpiece) {
  if (std::filesystem::exists(path)) throw std::runtime_error(path + ": already exists");
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, Closer> db(raw);
  if (rc != SQLITE_OK) throw std::runtime_error(path + ": cannot create database: " + sqlite3_errstr(rc));
  // WAL: readers never block the writer; synchronous=FULL: a commit is on disk when it returns.
  exec(db.get(), path, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
  Docstore store(path, std::move(db), tokenization, wordpiece);
  sqlite3* d = store.db_.get();
  Transaction txn(d, path);
  exec(d, path,
       "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
       // AUTOINCREMENT: ids are never reused, so an id once deleted from the dense index
       // (or held in its deleted set) can never name a new passage.
       "CREATE TABLE documents(key INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
       " title TEXT NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL, source TEXT NOT NULL,"
       " html_offsets BLOB, added INTEGER NOT NULL);"
       "CREATE TABLE passages(id INTEGER PRIMARY KEY AUTOINCREMENT, document INTEGER NOT NULL,"
       " idx INTEGER NOT NULL, begin INTEGER NOT NULL, end INTEGER NOT NULL);"
       "CREATE INDEX passages_document ON passages(document);");
  Statement meta(d, path, "INSERT INTO meta(key, value) VALUES(?, ?)");
  meta.bind(1, std::string("format")).bind(2, std::string(kFormat)).run();
  meta.bind(1, std::string("format_version")).bind(2, std::to_string(kFormatVersion)).run();
  store.create_bm25_table();
  txn.commit();
  return store;
}

void Docstore::create_bm25_table() {
  sqlite3* d = db_.get();
  // Contentless: the passage text lives once, in documents.
  exec(d, path_,
       tokenization_ == Bm25Tokenization::kTrigram
           ? "CREATE VIRTUAL TABLE passages_fts USING fts5(body, content='', tokenize='trigram');"
           : "CREATE VIRTUAL TABLE passages_fts USING fts5(body, content='', tokenize='unicode61');");
  Statement meta(d, path_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
  meta.bind(1, std::string("bm25")).bind(2, to_string(tokenization_)).run();
  meta.bind(1, std::string("vocabulary"))
      .bind(2, tokenization_ == Bm25Tokenization::kWordPiece ? vocabulary_fingerprint(*wordpiece_) : std::string())
      .run();
}

void Docstore::rebuild_bm25(Bm25Tokenization tokenization, const Tokenizer* wordpiece) {
  if (tokenization == Bm25Tokenization::kWordPiece && !wordpiece)
    throw std::invalid_argument(path_ + ": wordpiece BM25 needs the encoder's tokenizer");
  std::lock_guard<std::mutex> lock(*mutex_);
  sqlite3* db = db_.get();
  Transaction txn(db, path_);
  exec(db, path_, "DROP TABLE passages_fts");
  const Bm25Tokenization old_tokenization = tokenization_;
  const Tokenizer* old_wordpiece = wordpiece_;
  tokenization_ = tokenization;
  wordpiece_ = wordpiece;
  try {
    create_bm25_table();
    Statement all(db, path_,
                  "SELECT p.id, p.idx, p.begin, p.end, d.title, d.text FROM passages p JOIN documents d"
                  " ON d.key = p.document ORDER BY p.document");
    Statement insert(db, path_, "INSERT INTO passages_fts(rowid, body) VALUES(?, ?)");
    while (all.step()) {
      const Passage p{all.integer(1), all.integer(2), all.integer(3)};
      insert.bind(1, all.integer(0)).bind(2, bm25_body(passage_input(all.text(4), all.text(5), p))).run();
    }
    txn.commit();
  } catch (...) {
    tokenization_ = old_tokenization;
    wordpiece_ = old_wordpiece;
    throw;
  }
}

Docstore Docstore::open(const std::string& path, bool read_only, const Tokenizer* wordpiece) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": docstore is missing");
  sqlite3* raw = nullptr;
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<sqlite3, Closer> db(raw);
  if (rc != SQLITE_OK) throw std::runtime_error(path + ": cannot open database: " + sqlite3_errstr(rc));
  sqlite3_busy_timeout(db.get(), 10000);
  auto damaged = [&](const std::string& what) {
    return std::runtime_error(path + ": not a usable longqa docstore: " + what);
  };
  std::map<std::string, std::string> meta;
  std::string problem;
  try {
    if (!read_only) exec(db.get(), path, "PRAGMA synchronous=FULL;");
    Statement check(db.get(), path, "PRAGMA quick_check");
    while (check.step())
      if (check.text(0) != "ok" && problem.empty()) problem = "database is damaged (quick_check: " + check.text(0) + ")";
    Statement rows(db.get(), path, "SELECT key, value FROM meta");
    while (problem.empty() && rows.step()) meta[rows.text(0)] = rows.text(1);
  } catch (const std::runtime_error& e) {
    problem = std::string(e.what()).substr(path.size() + 2);  // without the "path: " prefix
  }
  if (!problem.empty()) throw damaged(problem);
  if (meta["format"] != kFormat) throw damaged("no '" + std::string(kFormat) + "' format marker");
  if (meta["format_version"] != std::to_string(kFormatVersion))
    throw damaged("format version " + meta["format_version"] + ", this build reads " + std::to_string(kFormatVersion));
  const Bm25Tokenization tokenization = parse_bm25_tokenization(meta["bm25"]);
  if (tokenization == Bm25Tokenization::kWordPiece && wordpiece &&
      meta["vocabulary"] != vocabulary_fingerprint(*wordpiece))
    throw std::runtime_error(path + ": BM25 terms were made with another WordPiece vocabulary (fingerprint " +
                             meta["vocabulary"] + ", the encoder's is " + vocabulary_fingerprint(*wordpiece) + ")");
  return Docstore(path, std::move(db), tokenization, wordpiece);
}

std::string Docstore::bm25_body(const std::string& input) const {
  if (tokenization_ == Bm25Tokenization::kTrigram) return input;
  std::string body;
  for (const Token& t : wordpiece_->tokenize(input)) {
    if (t.id == wordpiece_->unk_id()) continue;
    body += (body.empty() ? "t" : " t") + std::to_string(t.id);
  }
  return body;
}

std::string Docstore::bm25_query(const std::string& query) const {
  std::vector<std::string> terms;
  std::unordered_set<std::string> seen;
  if (tokenization_ == Bm25Tokenization::kWordPiece) {
    // Punctuation pieces match everywhere they are frequent and nowhere they are not: skipped.
    for (const Token& t : wordpiece_->tokenize(query)) {
      if (t.id == wordpiece_->unk_id() || !has_word_char(query.substr(t.begin, t.end - t.begin))) continue;
      std::string term = "t" + std::to_string(t.id);
      if (seen.insert(term).second) terms.push_back(std::move(term));
    }
    return join_or(terms);
  }
  // Trigrams of the query with everything but letters and digits made a space and spaces
  // collapsed. Trigrams spanning a space keep two-syllable Korean words (" 수도") searchable.
  std::vector<std::string> chars;
  for (size_t i = 0; i < query.size();) {
    const Utf8Char c = decode_utf8(query, i);
    const bool word = c.valid && is_word_char(c.cp);
    if (word) {
      chars.push_back(query.substr(i, c.length));
    } else if (!chars.empty() && chars.back() != " ") {
      chars.push_back(" ");
    }
    i += c.length;
  }
  while (!chars.empty() && chars.back() == " ") chars.pop_back();
  for (size_t i = 0; i + 3 <= chars.size(); ++i) {
    std::string term = quoted(chars[i] + chars[i + 1] + chars[i + 2]);
    if (seen.insert(term).second) terms.push_back(std::move(term));
  }
  return join_or(terms);
}

Docstore::AddResult Docstore::add(const std::vector<DocumentPassages>& documents) {
  for (const auto& [doc, passages] : documents) {
    if (doc.id.empty()) throw std::invalid_argument(path_ + ": a document without an id (from " + doc.source + ")");
    for (const Passage& p : passages)
      if (p.begin < 0 || p.begin > p.end || p.end > static_cast<int64_t>(doc.text.size()))
        throw std::invalid_argument(path_ + ": document '" + doc.id + "': passage " + std::to_string(p.index) +
                                    " has byte range [" + std::to_string(p.begin) + ", " + std::to_string(p.end) +
                                    ") outside its text of " + std::to_string(doc.text.size()) + " bytes");
  }
  // Bodies are made outside the lock: tokenizing is the slow part.
  std::vector<std::vector<std::string>> bodies;
  for (const auto& [doc, passages] : documents) {
    auto& b = bodies.emplace_back();
    for (const Passage& p : passages) b.push_back(bm25_body(passage_input(doc.title, doc.text, p)));
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  std::lock_guard<std::mutex> lock(*mutex_);
  sqlite3* db = db_.get();
  AddResult result;
  Transaction txn(db, path_);
  Statement find(db, path_, "SELECT key FROM documents WHERE id = ?");
  Statement old_passages(db, path_,
                         "SELECT p.id, p.idx, p.begin, p.end, d.title, d.text FROM passages p JOIN documents d"
                         " ON d.key = p.document WHERE p.document = ?");
  Statement fts_delete(db, path_, "INSERT INTO passages_fts(passages_fts, rowid, body) VALUES('delete', ?, ?)");
  Statement delete_passages(db, path_, "DELETE FROM passages WHERE document = ?");
  Statement delete_document(db, path_, "DELETE FROM documents WHERE key = ?");
  Statement insert_document(db, path_,
                            "INSERT INTO documents(id, title, text, metadata, source, html_offsets, added)"
                            " VALUES(?, ?, ?, ?, ?, ?, ?)");
  Statement insert_passage(db, path_, "INSERT INTO passages(document, idx, begin, end) VALUES(?, ?, ?, ?)");
  Statement insert_fts(db, path_, "INSERT INTO passages_fts(rowid, body) VALUES(?, ?)");
  for (size_t i = 0; i < documents.size(); ++i) {
    const auto& [doc, passages] = documents[i];
    find.bind(1, doc.id);
    if (find.step()) {
      const int64_t key = find.integer(0);
      old_passages.bind(1, key);
      while (old_passages.step()) {
        const Passage p{old_passages.integer(1), old_passages.integer(2), old_passages.integer(3)};
        result.replaced_passage_ids.push_back(old_passages.integer(0));
        fts_delete.bind(1, old_passages.integer(0))
            .bind(2, bm25_body(passage_input(old_passages.text(4), old_passages.text(5), p)))
            .run();
      }
      old_passages.reset();
      delete_passages.bind(1, key).run();
      delete_document.bind(1, key).run();
      ++result.replaced_documents;
    }
    find.reset();
    insert_document.bind(1, doc.id)
        .bind(2, doc.title)
        .bind(3, doc.text)
        .bind(4, doc.metadata_json.empty() ? std::string("{}") : doc.metadata_json)
        .bind(5, doc.source)
        .bind_blob(6, doc.html_offsets.data(), doc.html_offsets.size() * sizeof(int64_t))
        .bind(7, now)
        .run();
    const int64_t key = sqlite3_last_insert_rowid(db);
    auto& ids = result.passage_ids.emplace_back();
    for (size_t j = 0; j < passages.size(); ++j) {
      insert_passage.bind(1, key).bind(2, passages[j].index).bind(3, passages[j].begin).bind(4, passages[j].end).run();
      ids.push_back(sqlite3_last_insert_rowid(db));
      insert_fts.bind(1, ids.back()).bind(2, bodies[i][j]).run();
    }
  }
  txn.commit();
  return result;
}

Docstore::RemoveResult Docstore::remove(const std::vector<std::string>& ids) {
  std::lock_guard<std::mutex> lock(*mutex_);
  sqlite3* db = db_.get();
  RemoveResult result;
  Transaction txn(db, path_);
  Statement find(db, path_, "SELECT key, title, text FROM documents WHERE id = ?");
  Statement passages(db, path_, "SELECT id, idx, begin, end FROM passages WHERE document = ?");
  Statement fts_delete(db, path_, "INSERT INTO passages_fts(passages_fts, rowid, body) VALUES('delete', ?, ?)");
  Statement delete_passages(db, path_, "DELETE FROM passages WHERE document = ?");
  Statement delete_document(db, path_, "DELETE FROM documents WHERE key = ?");
  for (const auto& id : ids) {
    find.bind(1, id);
    if (!find.step()) {
      find.reset();
      result.missing.push_back(id);
      continue;
    }
    const int64_t key = find.integer(0);
    const std::string title = find.text(1), text = find.text(2);
    find.reset();
    passages.bind(1, key);
    while (passages.step()) {
      const Passage p{passages.integer(1), passages.integer(2), passages.integer(3)};
      result.passage_ids.push_back(passages.integer(0));
      fts_delete.bind(1, passages.integer(0)).bind(2, bm25_body(passage_input(title, text, p))).run();
    }
    passages.reset();
    delete_passages.bind(1, key).run();
    delete_document.bind(1, key).run();
  }
  txn.commit();
  return result;
}

std::optional<Document> Docstore::document(const std::string& id) const {
  std::lock_guard<std::mutex> lock(*mutex_);
  Statement find(db_.get(), path_, "SELECT id, title, text, metadata, source, html_offsets FROM documents WHERE id = ?");
  find.bind(1, id);
  if (!find.step()) return std::nullopt;
  Document doc;
  doc.id = find.text(0);
  doc.title = find.text(1);
  doc.text = find.text(2);
  doc.metadata_json = find.text(3);
  doc.source = find.text(4);
  doc.html_offsets = decode_offsets(find.text(5));
  return doc;
}

std::vector<StoredPassage> Docstore::passages(const std::vector<int64_t>& ids, bool with_text) const {
  std::lock_guard<std::mutex> lock(*mutex_);
  Statement find(db_.get(), path_,
                 with_text ? "SELECT d.id, d.title, p.idx, p.begin, p.end,"
                             " substr(CAST(d.text AS BLOB), p.begin + 1, p.end - p.begin)"
                             " FROM passages p JOIN documents d ON d.key = p.document WHERE p.id = ?"
                           : "SELECT d.id, d.title, p.idx, p.begin, p.end"
                             " FROM passages p JOIN documents d ON d.key = p.document WHERE p.id = ?");
  std::vector<StoredPassage> out;
  for (int64_t id : ids) {
    find.bind(1, id);
    if (find.step()) {
      StoredPassage& p = out.emplace_back();
      p.id = id;
      p.document_id = find.text(0);
      p.title = find.text(1);
      p.index = find.integer(2);
      p.begin = find.integer(3);
      p.end = find.integer(4);
      if (with_text) p.text = find.text(5);
    }
    find.reset();
  }
  return out;
}

std::vector<StoredPassage> Docstore::document_passages(const std::string& id, bool with_text) const {
  std::vector<int64_t> ids;
  {
    std::lock_guard<std::mutex> lock(*mutex_);
    Statement find(db_.get(), path_,
                   "SELECT p.id FROM passages p JOIN documents d ON d.key = p.document WHERE d.id = ? ORDER BY p.idx");
    find.bind(1, id);
    while (find.step()) ids.push_back(find.integer(0));
  }
  return passages(ids, with_text);
}

std::vector<std::pair<int64_t, std::string>> Docstore::passage_inputs(const std::vector<int64_t>& ids) const {
  std::lock_guard<std::mutex> lock(*mutex_);
  Statement find(db_.get(), path_,
                 "SELECT p.idx, p.begin, p.end, d.title, d.text FROM passages p JOIN documents d"
                 " ON d.key = p.document WHERE p.id = ?");
  std::vector<std::pair<int64_t, std::string>> out;
  for (int64_t id : ids) {
    find.bind(1, id);
    if (find.step())
      out.emplace_back(id, passage_input(find.text(3), find.text(4), {find.integer(0), find.integer(1), find.integer(2)}));
    find.reset();
  }
  return out;
}

std::vector<int64_t> Docstore::passage_ids() const {
  std::lock_guard<std::mutex> lock(*mutex_);
  Statement all(db_.get(), path_, "SELECT id FROM passages ORDER BY id");
  std::vector<int64_t> out;
  while (all.step()) out.push_back(all.integer(0));
  return out;
}

std::vector<std::string> Docstore::document_ids(const std::string& after, int64_t limit) const {
  std::lock_guard<std::mutex> lock(*mutex_);
  Statement page(db_.get(), path_, "SELECT id FROM documents WHERE id > ? ORDER BY id LIMIT ?");
  page.bind(1, after).bind(2, limit);
  std::vector<std::string> out;
  while (page.step()) out.push_back(page.text(0));
  return out;
}

std::vector<ScoredId> Docstore::bm25(const std::string& query, int64_t k) const {
  const std::string match = bm25_query(query);
  if (match.empty() || k <= 0) return {};
  std::lock_guard<std::mutex> lock(*mutex_);
  Statement search(db_.get(), path_,
                   "SELECT rowid, bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ?"
                   " ORDER BY rank LIMIT ?");
  search.bind(1, match).bind(2, k);
  std::vector<ScoredId> out;
  while (search.step()) out.push_back({search.integer(0), static_cast<float>(-search.real(1))});
  return out;
}

int64_t Docstore::document_count() const {
  std::lock_guard<std::mutex> lock(*mutex_);
  Statement count(db_.get(), path_, "SELECT count(*) FROM documents");
  count.step();
  return count.integer(0);
}

int64_t Docstore::passage_count() const {
  std::lock_guard<std::mutex> lock(*mutex_);
  Statement count(db_.get(), path_, "SELECT count(*) FROM passages");
  count.step();
  return count.integer(0);
}

}  // namespace longqa::retriever
