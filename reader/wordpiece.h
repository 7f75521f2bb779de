// WordPiece over the words the normalizer makes (Hugging Face tokenizers' WordPiece model):
// greedy longest match from the left, "##" on non-initial pieces, with the byte range of the
// original text behind every piece. Private to reader/.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "longqa/tokenizer.h"

namespace longqa::tokenization {

// The original byte range a normalized char stands for.
struct Span {
  int64_t begin = 0, end = 0;
};

struct NormChar {
  char32_t cp;
  Span span;
};

// What WordPiece needs of the Tokenizer.
struct WordPieceModel {
  const std::unordered_map<std::string, int32_t>& ids;
  const TokenizerOptions& options;
  int32_t unk_id;
  size_t max_token_bytes;
};

// A word longer than max_input_chars_per_word, or with a part that matches nothing, is one
// [UNK]. A piece's offsets run from its first char's begin to its last char's end, as HF
// converts normalized ranges to original ones.
class WordPiece {
 public:
  WordPiece(const WordPieceModel& model, std::vector<Token>& out) : model_(model), out_(out) {}

  // Appends the pieces of one word to the output.
  void encode(const std::vector<NormChar>& word);

 private:
  struct Piece {
    int32_t id;
    size_t begin, end;  // char indices in the word
  };

  void unknown(const std::vector<NormChar>& word);

  const WordPieceModel& model_;
  std::vector<Token>& out_;
  std::string bytes_, key_;     // the word in UTF-8; the candidate being looked up
  std::vector<size_t> starts_;  // byte offset of each char of the word in bytes_
  std::vector<Piece> pieces_;
};

}  // namespace longqa::tokenization
