// The one question-answering flow: question -> retrieve -> fetch documents -> read them
// whole -> answers ranked across documents. The server's /v1/ask, `longqa ask`, the
// open-domain `longqa eval --index` and users' C++ all call this class.
//
//   auto pipeline = longqa::Pipeline::open("models/default-en", "my-index");
//   for (const auto& a : pipeline.ask("Who won Super Bowl 50?").answers)
//     std::cout << a.text << "  (" << a.title << ")\n";
//
// ask() runs every stage; retrieve() and answer() are its two halves, for callers that
// read the documents of several questions in one batch (the server's work queue).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "longqa/store.h"
#include "longqa/reader.h"
#include "longqa/retriever.h"

namespace longqa {

struct AskOptions {
  int64_t top_k_documents = 3;  // documents read whole per question
  int64_t top_k_answers = 5;    // answers returned, across documents
  // Documents the retriever ranks; 0 = top_k_documents. More than that: the extra hits are
  // returned (to measure recall) but not read.
  int64_t retrieve_depth = 0;
  int64_t snippet_bytes = 120;  // text kept on each side of an answer in its snippet
};

struct PipelineAnswer {
  std::string text;  // exactly the document's text [begin_byte, end_byte)
  double score = 0;  // the reader's span score (comparable across documents of one question)
  double passage_prior = 0;  // the part of score from the passage prior (ReaderOptions::passage_weight)
  std::string document_id, title;
  int64_t document_rank = 0;  // position of its document among the retrieved ones (0 = best)
  int64_t begin_char = 0, end_char = 0;  // code-point offsets into the document text
  int64_t begin_byte = 0, end_byte = 0;  // UTF-8 byte offsets into the document text
  std::string snippet;  // the answer with up to snippet_bytes of text on each side
  bool no_answer = false;
};

// What retrieve() found: the ranked hits, and the documents to read (the first
// top_k_documents hits still in the index, fetched whole).
struct Retrieval {
  std::string question;
  std::vector<retriever::DocumentHit> hits;       // best first, up to the retrieve depth
  std::vector<retriever::Document> documents;     // to read, in rank order
  std::vector<size_t> hit_of_document;            // documents[i] is hits[hit_of_document[i]]
  // The reader's passage prior for each document (ReadRequest::relevance); empty when the
  // reader's passage_weight is 0.
  std::vector<std::vector<PassageRelevance>> relevance;
  double retrieve_ms = 0, fetch_ms = 0;
};

struct PipelineTimings {
  double retrieve_ms = 0, fetch_ms = 0, read_ms = 0, total_ms = 0;
};

struct PipelineResult {
  std::vector<PipelineAnswer> answers;            // best first, at most top_k_answers
  std::vector<retriever::DocumentHit> documents;  // the documents read, in rank order
  int64_t tokens = 0;                             // question + document tokens read
  PipelineTimings timings;
};

class Pipeline {
 public:
  Pipeline(std::shared_ptr<const Reader> reader, std::shared_ptr<const retriever::Store> index,
           retriever::RetrieverOptions retriever_options = {});
  // The reader from a model directory, the index read-only from its directory or PostgreSQL
  // connection string (longqa/store.h), with the text encoder it records (or `encoder_dir`).
  static Pipeline open(const std::string& model_dir, const std::string& index_dir, ReaderOptions reader_options = {},
                       retriever::RetrieverOptions retriever_options = {}, const std::string& encoder_dir = "");

  PipelineResult ask(const std::string& question, const AskOptions& options = {}) const;

  // The first half of ask(): rank documents, fetch the ones to read and score their passages
  // against the question (the reader's passage prior).
  Retrieval retrieve(const std::string& question, const AskOptions& options = {}) const;
  // What the reader reads for a retrieval: the question and its documents' texts.
  static ReadRequest read_request(const Retrieval& retrieval);
  // The second half: the reader's answers to read_request(retrieval) become ranked answers
  // with document ids, titles and snippets. `read_ms` and `tokens` are reported as given.
  PipelineResult answer(const Retrieval& retrieval, std::vector<Answer> read_answers, const AskOptions& options,
                        double read_ms = 0, int64_t tokens = 0) const;

  const Reader& reader() const { return *reader_; }
  const retriever::Store& index() const { return *index_; }
  const retriever::Retriever& retriever() const { return *retriever_; }

 private:
  std::shared_ptr<const Reader> reader_;
  std::shared_ptr<const retriever::Store> index_;
  std::shared_ptr<const retriever::Retriever> retriever_;  // refers to *index_
};

// The answer with up to `bytes` of text on each side, cut at character boundaries.
std::string answer_snippet(const std::string& text, int64_t begin_byte, int64_t end_byte, int64_t bytes);

}  // namespace longqa
