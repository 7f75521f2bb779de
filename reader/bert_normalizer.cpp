#include "bert_normalizer.h"

#include <utility>

#include "hf_unicode.h"

namespace longqa::tokenization {

void BertNormalizer::push(char32_t c, Span span) {
  if (options_.clean_text) {
    if (is_removed_by_clean(c)) return;
    if (is_whitespace(c)) c = ' ';
  }
  if (options_.tokenize_chinese_chars && is_chinese_char(c)) {
    decompose(' ', span);
    decompose(c, span);
    decompose(' ', span);
  } else {
    decompose(c, span);
  }
}

// NFD (with strip_accents), then dropping nonspacing marks. Starters go on at once; combining
// marks wait for the next starter, to be put in canonical order first.
void BertNormalizer::decompose(char32_t c, Span span) {
  if (!strip_accents_) {
    lowercase(c, span);
    return;
  }
  if (c < 0xC0) {  // no decomposition, combining class 0
    flush_marks();
    last_ = span;
    lowercase(c, span);
    return;
  }
  char32_t parts[kMaxDecomposition];
  const int n = tokenization::decompose(c, parts);
  spans_.push_back(span);
  for (int i = 0; i < n; ++i) {
    const Mark m{parts[i], combining_class(parts[i]), i > 0};
    if (m.ccc == 0) {
      flush_marks();
      emit(m);
    } else {
      pending_.push_back(m);
    }
  }
}

void BertNormalizer::flush_marks() {
  // Stable insertion sort by combining class: runs are a few marks long.
  for (size_t i = 1; i < pending_.size(); ++i)
    for (size_t j = i; j > 0 && pending_[j - 1].ccc > pending_[j].ccc; --j) std::swap(pending_[j - 1], pending_[j]);
  for (const Mark& m : pending_) emit(m);
  pending_.clear();
}

void BertNormalizer::emit(const Mark& m) {
  if (!m.inserted) {
    last_ = spans_[next_span_++];
    if (next_span_ == spans_.size()) spans_.clear(), next_span_ = 0;
  }
  if (!is_nonspacing_mark(m.cp)) lowercase(m.cp, last_);
}

void BertNormalizer::lowercase(char32_t c, Span span) {
  if (!options_.lowercase) {
    pre_tokenize(c, span);
    return;
  }
  char32_t lower[2];
  const int n = to_lowercase(c, lower);
  for (int i = 0; i < n; ++i) pre_tokenize(lower[i], span);
}

// BertPreTokenizer: split on whitespace (dropped) and punctuation (kept alone).
void BertNormalizer::pre_tokenize(char32_t c, Span span) {
  if (is_whitespace(c)) {
    end_word();
  } else if (is_punctuation(c)) {
    end_word();
    word_.push_back({c, span});
    end_word();
  } else {
    word_.push_back({c, span});
  }
}

}  // namespace longqa::tokenization
