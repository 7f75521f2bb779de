// Passage windows over a document's tokens (longqa/corpus.h).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "longqa/corpus.h"

namespace longqa::retriever {

std::vector<Passage> split_passages(const std::vector<std::pair<int64_t, int64_t>>& token_bytes, int64_t window_tokens,
                                    int64_t overlap_tokens) {
  if (window_tokens <= 0 || overlap_tokens < 0 || overlap_tokens >= window_tokens)
    throw std::invalid_argument("split_passages: need window_tokens > 0 and 0 <= overlap_tokens < window_tokens, got " +
                                std::to_string(window_tokens) + " and " + std::to_string(overlap_tokens));
  std::vector<Passage> passages;
  const int64_t n = static_cast<int64_t>(token_bytes.size());
  for (int64_t start = 0; start < n; start += window_tokens - overlap_tokens) {
    const int64_t last = std::min(start + window_tokens, n) - 1;
    passages.push_back({static_cast<int64_t>(passages.size()), token_bytes[start].first, token_bytes[last].second});
    if (last == n - 1) break;
  }
  return passages;
}

}  // namespace longqa::retriever
