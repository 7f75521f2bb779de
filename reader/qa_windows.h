// How a (question, document) pair becomes model input: [CLS] question [SEP] document
// window [SEP], with overlapping windows over long documents. Shared by the Reader
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

  // window_max: tokens per window, special tokens and question included;
  // overlap < 0 means a quarter of the capacity.
  static WindowLayout make(int64_t window_max, int64_t question_tokens, int64_t overlap);
  // [begin, end) ranges over a document of n tokens.
  std::vector<std::pair<int64_t, int64_t>> ranges(int64_t n) const;
};

// One sequence: a question and the slice [begin, end) of a tokenized document.
struct WindowSpan {
  const std::vector<int32_t>* question;
  const std::vector<Token>* document;
  int64_t begin, end;
  int64_t length() const { return static_cast<int64_t>(question->size()) + (end - begin) + 3; }
  // Index in the sequence of document token `begin`.
  int64_t document_offset() const { return static_cast<int64_t>(question->size()) + 2; }
};

// Pads the windows into one batch: token types 0 for [CLS] question [SEP], 1 after.
EncoderInput make_window_batch(const std::vector<WindowSpan>& windows, const Tokenizer& tokenizer);

}  // namespace longqa
