// Starting a LittleBird reader from a checkpoint with BERT-shaped layers (research/littlebird.md §1.1:
// LittleBird reuses a short-input model): the shared weights are copied, LittleBird's own
// parameters initialised; the absolute position embeddings kept as a cyclic table (or dropped).
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
  // What becomes of the source's absolute positions: "cyclic" (its whole table, reused every
  // max_position_embeddings tokens), "block" (its first block_size rows: the position within each attention
  // block) or "none" (dropped; BiALiBi alone). bench/results/position_conversion.json compares them.
  std::string positions = "cyclic";
  // BiALiBi distances capped here (0: none). Training on windows of at most this many tokens is
  // unchanged by it; reading longer ones, every token keeps the bias to the question it was
  // trained with (without it, default-en's whole-article F1 fell to 0 past 10k tokens).
  int64_t bialibi_max_distance = 2048;
};

// `source_dir` holds a bert, electra (embedding_size == hidden_size), roberta, xlm-roberta, big_bird or longformer
// checkpoint (base model, *ForQuestionAnswering, *ForMaskedLM), with or without its prefix ("bert.", "roberta.",
// ...). Mapping: embeddings (positions as options.positions says; RoBERTa's rows from padding_idx + 1 on, so
// that row 0 is the first token's) and every layer's attention/FFN are copied; each layer's pack
// attention starts as a copy of that layer's attention (Longformer: of its global query/key/value projections);
// BiALiBi slopes start at ALiBi's geometric slopes, alpha at 0; the pack sequence is random; qa_outputs is
// copied when present, else random (BigBird's qa_classifier head does not carry over). The token types,
// pad_token_id and sep_token_id stay the source's. modernbert (pre-norm, GeGLU, RoPE) is refused, with why.
QaModel littlebird_from_checkpoint(const std::string& source_dir, const ConvertOptions& options);

}  // namespace longqa
