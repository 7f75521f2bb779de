// How a (question, document) pair becomes model input: the tokenizer's pair template around the
// question and a document window ([CLS] Q [SEP] D [SEP], <s> Q </s></s> D </s>, ...), with
// overlapping windows over long documents. Shared by the Reader
// and the trainer, so both see exactly the same sequences. Private to reader/.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "longqa/qa_model.h"
#include "longqa/tokenizer.h"

namespace longqa {

struct WindowLayout {
  int64_t capacity;  // document tokens per window
  int64_t overlap;   // document tokens shared by consecutive windows

  // window_max: tokens per window, the template's special tokens and the question included;
  // overlap < 0 means a quarter of the capacity.
  static WindowLayout make(int64_t window_max, int64_t question_tokens, int64_t overlap, const PairTemplate& pair);
  // [begin, end) ranges over a document of n tokens.
  std::vector<std::pair<int64_t, int64_t>> ranges(int64_t n) const;
};

// One sequence: a question and the slice [begin, end) of a tokenized document.
struct WindowSpan {
  const std::vector<int32_t>* question;
  const std::vector<Token>* document;
  int64_t begin, end;
  const PairTemplate* pair;
  int64_t length() const { return static_cast<int64_t>(question->size()) + (end - begin) + pair->special_tokens(); }
  // Index in the sequence of document token `begin`.
  int64_t document_offset() const { return pair->document_offset(static_cast<int64_t>(question->size())); }
};

// Pads the windows into one batch (pad_id) with the template's token types; a model with fewer
// than two token types gets none (all zero, as HF's RoBERTa tokenizers return no token_type_ids).
EncoderInput make_window_batch(const std::vector<WindowSpan>& windows, int32_t pad_id, int64_t type_vocab_size);

}  // namespace longqa
