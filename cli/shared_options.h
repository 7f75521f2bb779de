// Options several commands share, declared and read in one place so that their names,
// defaults and help text are the same everywhere: the reader's (read, ask, eval) and the
// retriever's (search, ask, eval --index).
#pragma once
#include "args.h"
#include "commands.h"
#include "longqa/reader.h"
#include "longqa/retriever.h"

namespace longqa::cli {

// --n-best --max-answer-tokens --window --overlap --threads [--no-answer]
void add_reader_options(Args& args, bool with_no_answer = true);
// Reads them; --threads is applied here (process-wide: set_compute_threads).
ReaderOptions reader_options(const Args& args);

// --mode --candidates --rrf-k --dense-weight --bm25-weight --passages --encoder
void add_retriever_options(Args& args, const std::string& passages_default = "3");
retriever::RetrieverOptions retriever_options(const Args& args);

// --passage-tokens --passage-overlap: how a document read without an index is cut into passages
// for the passage prior (an index's defaults); `when` prefixes their help ("" or "without --index: ").
void add_prior_passage_options(Args& args, const std::string& when = "");
retriever::IndexOptions prior_passage_options(const Args& args);

// The words of argv that belong to no option, joined by spaces (a question given as the last
// arguments); the options go to `options`. `flags`: the options that take no value.
std::string take_trailing_words(const Argv& argv, Argv& options, const std::vector<std::string>& flags);

// `text` on one line (newlines and tabs as spaces), at most `max_bytes` of it cut at a
// character boundary and marked with an ellipsis.
std::string one_line(const std::string& text, size_t max_bytes);

}  // namespace longqa::cli
