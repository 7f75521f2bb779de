#include "longqa/training/synthetic_qa.h"

#include <algorithm>
#include <cctype>
#include <random>

namespace longqa {
namespace {

struct Word {
  int64_t begin, end;  // bytes, punctuation trimmed
};

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_ascii_punct(unsigned char c) { return c < 0x80 && std::ispunct(c); }

// Whitespace-separated words of [begin, end), ASCII punctuation trimmed at both ends.
std::vector<Word> words_of(const std::string& text, int64_t begin, int64_t end) {
  std::vector<Word> words;
  int64_t i = begin;
  while (i < end) {
    while (i < end && is_space(static_cast<unsigned char>(text[i]))) ++i;
    int64_t j = i;
    while (j < end && !is_space(static_cast<unsigned char>(text[j]))) ++j;
    int64_t b = i, e = j;
    while (b < e && is_ascii_punct(static_cast<unsigned char>(text[b]))) ++b;
    while (e > b && is_ascii_punct(static_cast<unsigned char>(text[e - 1]))) --e;
    if (e > b) words.push_back({b, e});
    i = j;
  }
  return words;
}

bool has_hangul(const std::string& s) {
  // Hangul syllables U+AC00..U+D7A3 are encoded as 0xEA 0xB0 0x80 .. 0xED 0x9E 0xA3.
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0xEA && c <= 0xED) return true;
  }
  return false;
}

bool is_name_or_number(const std::string& text, const Word& w) {
  const auto c = static_cast<unsigned char>(text[w.begin]);
  return std::isupper(c) || std::isdigit(c);
}

}  // namespace

std::vector<std::pair<int64_t, int64_t>> split_sentences(const std::string& text) {
  std::vector<std::pair<int64_t, int64_t>> out;
  const int64_t n = static_cast<int64_t>(text.size());
  int64_t begin = 0;
  auto emit = [&](int64_t end) {
    int64_t b = begin, e = end;
    while (b < e && is_space(static_cast<unsigned char>(text[b]))) ++b;
    while (e > b && is_space(static_cast<unsigned char>(text[e - 1]))) --e;
    if (e > b) out.emplace_back(b, e);
    begin = end;
  };
  for (int64_t i = 0; i < n; ++i) {
    const char c = text[i];
    const bool ideographic_stop = i + 2 < n && text.compare(i, 3, "\xE3\x80\x82") == 0;  // 。
    if (c == '\n') {
      emit(i + 1);
    } else if ((c == '.' || c == '!' || c == '?') && (i + 1 == n || is_space(static_cast<unsigned char>(text[i + 1])))) {
      emit(i + 1);
    } else if (ideographic_stop) {
      emit(i + 3);
      i += 2;
    }
  }
  emit(n);
  return out;
}

std::vector<QaExample> make_cloze_examples(const std::vector<std::string>& texts, const ClozeOptions& options) {
  std::mt19937_64 rng(options.seed);
  std::vector<QaExample> out;
  for (size_t t = 0; t < texts.size(); ++t) {
    const std::string& text = texts[t];
    auto sentences = split_sentences(text);
    std::shuffle(sentences.begin(), sentences.end(), rng);
    int64_t made = 0;
    for (const auto& [s_begin, s_end] : sentences) {
      if (made >= options.per_text) break;
      const auto words = words_of(text, s_begin, s_end);
      if (static_cast<int64_t>(words.size()) < options.min_sentence_words) continue;
      // Candidate answers: runs of capitalised words or numbers (not sentence-initial),
      // else any word of 3+ bytes.
      std::vector<std::pair<size_t, size_t>> candidates;
      for (size_t i = 1; i < words.size(); ++i) {
        if (!is_name_or_number(text, words[i])) continue;
        size_t j = i;
        while (j + 1 < words.size() && j + 1 - i < static_cast<size_t>(options.max_answer_words) &&
               is_name_or_number(text, words[j + 1]))
          ++j;
        candidates.emplace_back(i, j);
        i = j;
      }
      if (candidates.empty())
        for (size_t i = 1; i < words.size(); ++i)
          if (words[i].end - words[i].begin >= 3) candidates.emplace_back(i, i);
      if (candidates.empty()) continue;
      const auto [first, last] = candidates[rng() % candidates.size()];
      const int64_t a_begin = words[first].begin, a_end = words[last].end;
      const std::string answer = text.substr(a_begin, a_end - a_begin);
      QaExample e;
      e.id = "cloze-" + std::to_string(t) + "-" + std::to_string(made);
      e.question = text.substr(s_begin, a_begin - s_begin) + (has_hangul(answer) ? "무엇" : "what") +
                   text.substr(a_end, s_end - a_end);
      e.context = text;
      e.answers.emplace_back(a_begin, a_end);
      out.push_back(std::move(e));
      ++made;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> make_ict_pairs(const std::vector<std::string>& texts, uint64_t seed,
                                                                 double keep_sentence) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& text : texts) {
    const auto sentences = split_sentences(text);
    if (sentences.size() < 2) continue;
    const auto [b, e] = sentences[rng() % sentences.size()];
    const std::string query = text.substr(b, e - b);
    const std::string passage = uniform(rng) < keep_sentence ? text : text.substr(0, b) + text.substr(e);
    out.emplace_back(query, passage);
  }
  return out;
}

}  // namespace longqa
