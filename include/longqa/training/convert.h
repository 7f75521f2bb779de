// Starting a LittleBird reader from a BERT-family checkpoint (research/littlebird.md §1.1:
// LittleBird reuses a short-input model): the shared weights are copied, LittleBird's own
// parameters initialised, the absolute position embeddings dropped.
#pragma once
#include <cstdint>
#include <string>

#include "longqa/qa_model.h"

namespace longqa {

struct ConvertOptions {
  int64_t block_size = 64;
  int64_t pack_size = 64;
  int64_t max_seq_length = 8192;
  uint64_t seed = 0;  // for the parameters that are initialised, not copied
};

// `bert_dir` holds a BertModel, BertForQuestionAnswering, BertForMaskedLM (or ELECTRA with
// embedding_size == hidden_size) checkpoint, with or without the "bert."/"electra." prefix.
// Mapping: embeddings (but positions) and every layer's attention/FFN are copied; each
// layer's pack attention starts as a copy of that layer's attention; BiALiBi slopes start at
// ALiBi's geometric slopes, alpha at 0; the pack sequence is random; qa_outputs is copied
// when present, else random.
QaModel littlebird_from_bert(const std::string& bert_dir, const ConvertOptions& options);

}  // namespace longqa
