// Tokenizers with byte offsets, equal to Hugging Face's: WordPiece from vocab.txt (BertTokenizer)
// and every tokenizer.json that tokenizer_json.h implements (BPE byte-level and with byte fallback,
// Unigram, WordPiece, with their normalizers, pre-tokenizers and post-processors). No torch here.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "longqa/common/utf8.h"

namespace longqa {

struct TokenizerOptions {
  bool lowercase = true;               // do_lower_case
  int strip_accents = -1;              // -1: follow lowercase (HF default), 0: no, 1: yes
  bool tokenize_chinese_chars = true;  // put spaces around CJK ideographs
  bool clean_text = true;              // drop control chars, map whitespace to ' '
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]", sep_token = "[SEP]", pad_token = "[PAD]", mask_token = "[MASK]";
  std::string continuing_subword_prefix = "##";
  int max_input_chars_per_word = 100;
  // What to do with invalid UTF-8 in the input: throw, or replace by U+FFFD.
  bool replace_invalid_utf8 = false;
  // Special tokens besides the five above (e.g. bos/eos "<s>", "</s>"); each must be in the vocabulary.
  std::vector<std::string> extra_special_tokens;
  // false (HF's default): a special token's text in the input (e.g. "[SEP]") becomes that
  // token, as HF's added-token matching does; true: it is tokenized like any other text.
  bool split_special_tokens = false;
};

// One token: its id, its text (as in the vocabulary) and the byte range of the
// original UTF-8 input it came from ([begin, end), end exclusive).
struct Token {
  int32_t id;
  std::string text;
  int64_t begin, end;
};

// A tokenized text (or pair) with the post-processor's special tokens, as HF's Encoding: each
// token's offsets are byte offsets into the text of its sequence; special tokens added by the
// post-processor have [0, 0) and sequence -1.
struct Encoding {
  std::vector<Token> tokens;
  std::vector<int32_t> type_ids;
  std::vector<int32_t> sequence_ids;  // 0: text, 1: pair, -1: added by the post-processor
};

// Where the post-processor puts its special tokens around a pair (question, document), e.g.
// [CLS] Q [SEP] D [SEP] (BERT) or <s> Q </s></s> D </s> (RoBERTa): the ids and type ids before the
// question, between the two and after the document, and the type ids of the two texts' tokens.
// What the Reader and the trainer wrap every window in, so each family sees its own input.
struct PairTemplate {
  std::vector<int32_t> before, between, after;               // special token ids
  std::vector<int32_t> before_types, between_types, after_types;
  int32_t question_type = 0, document_type = 1;
  int64_t special_tokens() const { return static_cast<int64_t>(before.size() + between.size() + after.size()); }
  // Index in the sequence of the first document token after a question of `question_tokens`.
  int64_t document_offset(int64_t question_tokens) const {
    return static_cast<int64_t>(before.size()) + question_tokens + static_cast<int64_t>(between.size());
  }
};

namespace tokenization {
class Pipeline;
}

class Tokenizer {
 public:
  Tokenizer(std::vector<std::string> vocab, TokenizerOptions options);

  // vocab.txt (one token per line), with tokenizer_config.json beside it read if present.
  static Tokenizer from_vocab_file(const std::string& vocab_path);
  // HF tokenizer.json: model BPE, Unigram or WordPiece with the normalizers, pre-tokenizers,
  // post-processors and added tokens of reader/tokenizer_json.h; anything else is refused with a
  // FileFormatError (std::invalid_argument) naming the field and the file. The special ids
  // (cls_id() ...) come from the post-processor, the model's unk token, tokenizer_config.json
  // beside the file, or the usual names ("<s>", "<pad>", "<mask>"); -1 where none is found.
  static Tokenizer from_tokenizer_json(const std::string& path);
  // A model directory: tokenizer.json if present, else vocab.txt (+ tokenizer_config.json);
  // sentencepiece.bpe.model / tokenizer.model alone are refused with how to convert them.
  static Tokenizer from_directory(const std::string& dir);

  // Tokens of `text` without special tokens (HF's encode(text, add_special_tokens=False), the
  // post-processor's offset trimming included). Offsets are byte offsets into `text`.
  std::vector<Token> tokenize(std::string_view text) const;
  // HF's encode(text[, pair], add_special_tokens): the post-processor's special tokens and type
  // ids ([CLS] A [SEP] B [SEP] for vocab.txt tokenizers).
  Encoding encode(std::string_view text, bool add_special_tokens = true) const;
  Encoding encode_pair(std::string_view text, std::string_view pair, bool add_special_tokens = true) const;
  // The special tokens encode_pair puts around a pair (probed with two one-letter texts).
  PairTemplate pair_template() const;
  // "WordPiece", "BPE" or "Unigram".
  std::string model_type() const;

  int32_t token_to_id(const std::string& token) const;  // unk id when absent
  const std::string& id_to_token(int32_t id) const;
  int32_t vocab_size() const { return static_cast<int32_t>(vocab_.size()); }
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t mask_id() const { return mask_id_; }
  const TokenizerOptions& options() const { return options_; }
  const std::vector<std::string>& vocab() const { return vocab_; }

 private:
  // `ids` may differ from the inverse of `vocab` (tokenizer.json vocabularies with gaps).
  Tokenizer(std::vector<std::string> vocab, std::unordered_map<std::string, int32_t> ids,
            TokenizerOptions options);
  // A tokenizer.json pipeline (tokenizer_json.h); the WordPiece members above stay unused.
  explicit Tokenizer(std::shared_ptr<const tokenization::Pipeline> pipeline);
  // With the special token names of tokenizer_config.json in `dir`, where the vocabulary has them.
  static Tokenizer from_pipeline(std::shared_ptr<const tokenization::Pipeline> pipeline, const std::string& dir);
  Encoding encode_impl(std::string_view text, const std::string_view* pair, bool add_special_tokens) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int32_t> ids_;
  TokenizerOptions options_;
  int32_t cls_id_ = -1, sep_id_ = -1, pad_id_ = -1, unk_id_ = -1, mask_id_ = -1;
  std::vector<std::pair<std::string, int32_t>> special_tokens_;  // matched in the raw text
  size_t max_token_bytes_ = 0;  // longest vocabulary entry: bounds the WordPiece search
  std::shared_ptr<const tokenization::Pipeline> pipeline_;  // set for non-BERT tokenizer.json files
};

// The part of a vocabulary that a model trained from scratch on `texts` can use (its other
// embeddings would never be trained): the special tokens, every entry the texts tokenize
// into, and the one-character entries (X and ##X) of every character in the texts, so that
// new words made of known characters still tokenize into known pieces. In the vocabulary's
// order; tokenizing the texts with the subset gives the same pieces as with the whole.
std::vector<std::string> vocabulary_subset(const Tokenizer& tokenizer, const std::vector<std::string>& texts);

}  // namespace longqa
