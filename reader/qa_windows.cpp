#include "qa_windows.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace longqa {

WindowLayout WindowLayout::make(int64_t window_max, int64_t question_tokens, int64_t overlap, const PairTemplate& pair) {
  const int64_t capacity = window_max - question_tokens - pair.special_tokens();
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

EncoderInput make_window_batch(const std::vector<WindowSpan>& windows, int32_t pad_id, int64_t type_vocab_size) {
  const int64_t batch = static_cast<int64_t>(windows.size());
  int64_t n = 0;
  for (const auto& w : windows) n = std::max(n, w.length());
  auto ids = at::full({batch, n}, pad_id, at::kLong);
  auto types = at::zeros({batch, n}, at::kLong);
  auto valid = at::zeros({batch, n}, at::kBool);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto types_a = types.accessor<int64_t, 2>();
  auto valid_a = valid.accessor<bool, 2>();
  const bool typed = type_vocab_size >= 2;
  for (int64_t b = 0; b < batch; ++b) {
    const WindowSpan& w = windows[b];
    const PairTemplate& t = *w.pair;
    int64_t i = 0;
    const auto put = [&](int64_t id, int64_t type) {
      ids_a[b][i] = id;
      types_a[b][i++] = typed ? type : 0;
    };
    for (size_t k = 0; k < t.before.size(); ++k) put(t.before[k], t.before_types[k]);
    for (int32_t id : *w.question) put(id, t.question_type);
    for (size_t k = 0; k < t.between.size(); ++k) put(t.between[k], t.between_types[k]);
    for (int64_t k = w.begin; k < w.end; ++k) put((*w.document)[k].id, t.document_type);
    for (size_t k = 0; k < t.after.size(); ++k) put(t.after[k], t.after_types[k]);
    for (int64_t k = 0; k < i; ++k) valid_a[b][k] = true;
  }
  return {ids, types, valid};
}

}  // namespace longqa
