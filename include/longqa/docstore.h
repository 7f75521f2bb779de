// The docstore: documents, their passages and a BM25 index of the passages (SQLite FTS5), in
// one SQLite file (WAL journal, synchronous=FULL: a returned write survives a crash). It is the
// source of truth of an index: the dense vectors can always be recomputed from it.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "longqa/corpus.h"
#include "longqa/dense_index.h"

struct sqlite3;

namespace longqa {
class Tokenizer;
}

namespace longqa::retriever {

// How passages are cut into BM25 terms. Korean attaches particles to words without a space,
// so whole words would rarely match; both choices split inside words.
enum class Bm25Tokenization {
  kWordPiece,  // the WordPiece pieces of a tokenizer (the encoder's), stored as their ids
  kTrigram,    // every three characters (FTS5's trigram tokenizer)
};
std::string to_string(Bm25Tokenization tokenization);
Bm25Tokenization parse_bm25_tokenization(const std::string& name);  // "wordpiece" or "trigram"

// The text a passage is indexed and encoded by: its document's title (when it has one) and a
// newline, then its bytes of the document text. The title places a passage cut from the middle
// of a long document.
std::string passage_input(const std::string& title, const std::string& text, const Passage& passage);

struct DocumentPassages {
  Document document;
  std::vector<Passage> passages;
};

// A stored passage: its id (also its id in the dense index), its document and byte range.
struct StoredPassage {
  int64_t id = 0;
  std::string document_id, title;
  int64_t index = 0, begin = 0, end = 0;
  std::string text;  // its bytes of the document text, when asked for
};

class Docstore {
 public:
  // A new docstore file (which must not exist). `wordpiece` is needed for kWordPiece; it is
  // not owned and must outlive the docstore.
  static Docstore create(const std::string& path, Bm25Tokenization tokenization, const Tokenizer* wordpiece);
  // An existing one. Refuses, naming the file, what is not a longqa docstore, a damaged
  // database (PRAGMA quick_check) and a wordpiece tokenizer whose vocabulary differs.
  static Docstore open(const std::string& path, bool read_only, const Tokenizer* wordpiece);

  struct AddResult {
    std::vector<std::vector<int64_t>> passage_ids;  // per document, new
    std::vector<int64_t> replaced_passage_ids;      // of documents replaced (same id)
    int64_t replaced_documents = 0;
  };
  // One transaction: inserts the documents, each replacing a stored one with the same id.
  AddResult add(const std::vector<DocumentPassages>& documents);

  struct RemoveResult {
    std::vector<int64_t> passage_ids;  // of the removed documents
    std::vector<std::string> missing;  // ids that were not stored
  };
  // One transaction: removes the documents with these ids.
  RemoveResult remove(const std::vector<std::string>& ids);

  // One transaction: re-indexes every passage for BM25 with another tokenization.
  void rebuild_bm25(Bm25Tokenization tokenization, const Tokenizer* wordpiece);

  std::optional<Document> document(const std::string& id) const;
  // The passages with these ids that exist, in the order asked.
  std::vector<StoredPassage> passages(const std::vector<int64_t>& ids, bool with_text) const;
  // The passages of a document, in order (none when it is not stored).
  std::vector<StoredPassage> document_passages(const std::string& id, bool with_text) const;
  // passage_input() of each of these passages (ids that do not exist are skipped).
  std::vector<std::pair<int64_t, std::string>> passage_inputs(const std::vector<int64_t>& ids) const;
  std::vector<int64_t> passage_ids() const;  // ascending
  // Document ids after `after` (exclusive) in byte order, at most `limit`.
  std::vector<std::string> document_ids(const std::string& after, int64_t limit) const;

  // Top k passages for a free-text query (higher score is better: FTS5's bm25() negated).
  std::vector<ScoredId> bm25(const std::string& query, int64_t k) const;

  int64_t document_count() const;
  int64_t passage_count() const;
  Bm25Tokenization tokenization() const { return tokenization_; }
  const std::string& path() const { return path_; }

  Docstore(Docstore&&) noexcept;
  Docstore& operator=(Docstore&&) noexcept;
  ~Docstore();

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  Docstore(std::string path, std::unique_ptr<sqlite3, Closer> db, Bm25Tokenization tokenization,
           const Tokenizer* wordpiece);
  void create_bm25_table();  // the FTS5 table of tokenization_, and its meta rows
  std::string bm25_body(const std::string& input) const;   // what FTS5 indexes for a passage
  std::string bm25_query(const std::string& query) const;  // an FTS5 MATCH expression

  std::string path_;
  std::unique_ptr<sqlite3, Closer> db_;
  Bm25Tokenization tokenization_;
  const Tokenizer* wordpiece_;
  std::unique_ptr<std::mutex> mutex_;  // one connection, used from many threads
};

}  // namespace longqa::retriever
