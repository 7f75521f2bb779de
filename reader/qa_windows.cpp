#include "qa_windows.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace longqa {

WindowLayout WindowLayout::make(int64_t window_max, int64_t question_tokens, int64_t overlap) {
  const int64_t capacity = window_max - question_tokens - 3;
  if (capacity < 1)
    throw std::invalid_argument("window of " + std::to_string(window_max) + " tokens leaves no room for the document after a " +
                                std::to_string(question_tokens) + "-token question");
  return {capacity, overlap >= 0 ? std::min(overlap, capacity - 1) : capacity / 4};
}

std::vector<std::pair<int64_t, int64_t>> WindowLayout::ranges(int64_t n) const {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t begin = 0; begin < n; begin += capacity - overlap) {
    const int64_t end = std::min(n, begin + capacity);
    out.emplace_back(begin, end);
    if (end == n) break;
  }
  return out;
}

EncoderInput make_window_batch(const std::vector<WindowSpan>& windows, const Tokenizer& tokenizer) {
  const int64_t batch = static_cast<int64_t>(windows.size());
  int64_t n = 0;
  for (const auto& w : windows) n = std::max(n, w.length());
  auto ids = at::full({batch, n}, tokenizer.pad_id(), at::kLong);
  auto types = at::zeros({batch, n}, at::kLong);
  auto valid = at::zeros({batch, n}, at::kBool);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto types_a = types.accessor<int64_t, 2>();
  auto valid_a = valid.accessor<bool, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const WindowSpan& w = windows[b];
    int64_t i = 0;
    ids_a[b][i++] = tokenizer.cls_id();
    for (int32_t id : *w.question) ids_a[b][i++] = id;
    ids_a[b][i++] = tokenizer.sep_id();
    for (int64_t k = w.begin; k < w.end; ++k) {
      types_a[b][i] = 1;
      ids_a[b][i++] = (*w.document)[k].id;
    }
    types_a[b][i] = 1;
    ids_a[b][i++] = tokenizer.sep_id();
    for (int64_t k = 0; k < i; ++k) valid_a[b][k] = true;
  }
  return {ids, types, valid};
}

}  // namespace longqa
