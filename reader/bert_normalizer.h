// Hugging Face tokenizers' BertNormalizer then BertPreTokenizer, streamed: the chars of the
// original text go in one by one with their byte ranges, words of normalized chars come out to
// WordPiece, so one pass over the input does everything and no intermediate string is built.
// Private to reader/.
#pragma once
#include <cstddef>
#include <vector>

#include "longqa/tokenizer.h"
#include "wordpiece.h"

namespace longqa::tokenization {

// HF's steps are string transforms that keep, for every normalized char, the original range
// it aligns with. A char replaced in place keeps its own range; a char inserted after it (the
// tail of an NFD decomposition, the second char of lowercase 'İ') takes the range of the
// original char consumed last. NFD also reorders combining marks by combining class while the
// ranges stay in place, so a reordered mark takes the range of the position it lands on; the
// ranges of a word thus never go backwards.
class BertNormalizer {
 public:
  BertNormalizer(const TokenizerOptions& options, WordPiece& out)
      : options_(options),
        strip_accents_(options.strip_accents < 0 ? options.lowercase : options.strip_accents > 0),
        wordpiece_(out) {}

  // One char of the original text.
  void push(char32_t c, Span span);

  // End of a run of text (before a special token, or the end): HF normalizes each run on its
  // own, so nothing carries over.
  void finish() {
    flush_marks();
    end_word();
  }

 private:
  struct Mark {
    char32_t cp;
    int ccc;        // canonical combining class
    bool inserted;  // not the first char of its char's decomposition
  };

  void decompose(char32_t c, Span span);
  void flush_marks();
  void emit(const Mark& m);
  void lowercase(char32_t c, Span span);
  void pre_tokenize(char32_t c, Span span);
  void end_word() {
    wordpiece_.encode(word_);
    word_.clear();
  }

  const TokenizerOptions& options_;
  const bool strip_accents_;
  WordPiece& wordpiece_;
  std::vector<Mark> pending_;   // decomposed chars waiting for the next starter
  std::vector<Span> spans_;     // ranges of the original chars behind pending_, in order
  size_t next_span_ = 0;        // the next of spans_ a first-of-decomposition char takes
  Span last_;                   // range of the original char consumed last
  std::vector<NormChar> word_;  // the word being built
};

}  // namespace longqa::tokenization
