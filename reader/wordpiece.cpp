#include "wordpiece.h"

#include <algorithm>
#include <utility>

#include "longqa/common/utf8.h"

namespace longqa::tokenization {

void WordPiece::encode(const std::vector<NormChar>& word) {
  const size_t n = word.size();
  if (n == 0) return;
  if (n > static_cast<size_t>(std::max(model_.options.max_input_chars_per_word, 0))) {
    unknown(word);
    return;
  }
  bytes_.clear();
  starts_.clear();
  for (const NormChar& c : word) {
    starts_.push_back(bytes_.size());
    append_utf8(bytes_, c.cp);
  }
  starts_.push_back(bytes_.size());

  const std::string& prefix = model_.options.continuing_subword_prefix;
  pieces_.clear();
  for (size_t s = 0; s < n;) {
    const size_t prefix_bytes = s > 0 ? prefix.size() : 0;
    // Longer candidates than the longest vocabulary entry cannot match.
    size_t e = s;
    if (model_.max_token_bytes >= prefix_bytes) {
      const size_t limit = starts_[s] + (model_.max_token_bytes - prefix_bytes);
      e = static_cast<size_t>(std::upper_bound(starts_.begin() + s, starts_.end(), limit) - starts_.begin()) - 1;
    }
    int32_t id = -1;
    for (; e > s; --e) {
      key_.assign(prefix, 0, prefix_bytes);
      key_.append(bytes_, starts_[s], starts_[e] - starts_[s]);
      const auto it = model_.ids.find(key_);
      if (it != model_.ids.end()) {
        id = it->second;
        break;
      }
    }
    if (id < 0) {
      unknown(word);
      return;
    }
    pieces_.push_back({id, s, e});
    s = e;
  }
  for (const Piece& p : pieces_) {
    Token t{p.id, {}, word[p.begin].span.begin, word[p.end - 1].span.end};
    if (p.begin > 0) t.text = prefix;
    t.text.append(bytes_, starts_[p.begin], starts_[p.end] - starts_[p.begin]);
    out_.push_back(std::move(t));
  }
}

void WordPiece::unknown(const std::vector<NormChar>& word) {
  out_.push_back({model_.unk_id, model_.options.unk_token, word.front().span.begin, word.back().span.end});
}

}  // namespace longqa::tokenization
