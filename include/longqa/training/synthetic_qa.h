// Self-supervised training data from raw text, since labelled QA is scarce:
// cloze-style extractive QA (a sentence with its answer span blanked is the question,
// the passage holding it is the context) and Inverse-Cloze-Task pairs for the retriever.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "longqa/training/reader_trainer.h"

namespace longqa {

struct ClozeOptions {
  int64_t per_text = 3;        // questions made from each text (at most)
  int64_t min_sentence_words = 6;
  int64_t max_answer_words = 4;
  uint64_t seed = 0;
};

// Answers are preferably names or numbers (capitalised runs, digits), else a content
// word; the blank is "what" for Latin text and "무엇" for Hangul.
std::vector<QaExample> make_cloze_examples(const std::vector<std::string>& texts, const ClozeOptions& options);

// Inverse Cloze Task: a sentence as the query, its passage as the positive; the sentence
// stays in the passage with probability keep_sentence (ICT's 10%).
std::vector<std::pair<std::string, std::string>> make_ict_pairs(const std::vector<std::string>& texts, uint64_t seed,
                                                                 double keep_sentence = 0.1);

// Sentence byte ranges [begin, end) of a text (split after . ! ? 。 and at line breaks).
std::vector<std::pair<int64_t, int64_t>> split_sentences(const std::string& text);

}  // namespace longqa
