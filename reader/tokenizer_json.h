// Tokenizers read from a Hugging Face tokenizer.json, as the `tokenizers` library (0.23) runs
// them: added tokens, normalizer, pre-tokenizer, model (BPE byte-level or with byte fallback,
// Unigram, WordPiece) and post-processor, with the byte range of the original text behind every
// token (HF's NormalizedString alignments, one per normalized byte). Private to reader/; the
// public face is longqa::Tokenizer (include/longqa/tokenizer.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "longqa/tokenizer.h"

namespace longqa::tokenization {

class Pipeline {
 public:
  // Reads and checks the file; throws FileFormatError (a std::invalid_argument naming the file
  // and the field) for what is not implemented.
  static std::shared_ptr<const Pipeline> load(const std::string& path);
  // The same from a tokenizer.json's text (`path` names it in messages).
  static std::shared_ptr<const Pipeline> load_text(const std::string& text, const std::string& path);
  // The legacy byte-level BPE files of GPT-2 / RoBERTa (vocab.json, merges.txt and
  // tokenizer_config.json in `dir`), as transformers' GPT2Converter / RobertaConverter
  // (convert_slow_tokenizer) turn them into a tokenizer.json.
  static std::shared_ptr<const Pipeline> load_vocab_merges(const std::string& dir);
  ~Pipeline();

  // HF's encode(text, pair, add_special_tokens): offsets into the text of each token's sequence.
  Encoding encode(std::string_view text, const std::string_view* pair, bool add_special_tokens) const;

  // Vocabulary (model and added tokens) by id; ids without a token are "".
  const std::vector<std::string>& vocab() const;
  const std::unordered_map<std::string, int32_t>& ids() const;
  const std::string& model_type() const;
  // Special token names found in the file (post-processor, model), "" when absent.
  std::string unk_token, cls_token, sep_token, pad_token, mask_token;

  struct Impl;

 private:
  Pipeline();
  std::unique_ptr<Impl> impl_;
};

}  // namespace longqa::tokenization
