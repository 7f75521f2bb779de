// WordPiece (BertTokenizer from vocab.txt): any bytes as text, in both invalid-UTF-8 modes,
// with and without lowercasing; offsets must always slice the text.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "longqa/tokenizer.h"

namespace {

std::vector<std::string> vocabulary() {
  std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "##s", "##ing", "##ed",
                                "super", "##bowl", "bowl", "won", "who", "가", "##나", "나", "다", "##다", "é", "##é",
                                "日", "本", "😀", "##😀", ".", ",", "?", "!", "'", "-", "(", ")", "##1", "1", "2", "50"};
  for (char c = 'a'; c <= 'z'; ++c) {
    v.push_back(std::string(1, c));
    v.push_back("##" + std::string(1, c));
  }
  return v;
}

const longqa::Tokenizer& tokenizer(int variant) {
  static const longqa::Tokenizer tokenizers[4] = {
      [] { longqa::TokenizerOptions o; return longqa::Tokenizer(vocabulary(), o); }(),
      [] { longqa::TokenizerOptions o; o.replace_invalid_utf8 = true; return longqa::Tokenizer(vocabulary(), o); }(),
      [] { longqa::TokenizerOptions o; o.lowercase = false; o.replace_invalid_utf8 = true; o.max_input_chars_per_word = 8;
           return longqa::Tokenizer(vocabulary(), o); }(),
      [] { longqa::TokenizerOptions o; o.split_special_tokens = true; o.tokenize_chinese_chars = false; o.clean_text = false;
           o.replace_invalid_utf8 = true; return longqa::Tokenizer(vocabulary(), o); }()};
  return tokenizers[variant & 3];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& t = tokenizer(data[0]);
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    fuzz::check_offsets(t.encode(text), text);
    const size_t half = text.size() / 2;
    const std::string_view question = text.substr(0, half), document = text.substr(half);
    fuzz::check_offsets(t.encode_pair(question, document), question, document);
  } catch (const std::invalid_argument&) {
    // invalid UTF-8 with replace_invalid_utf8 off: refused, as documented
  }
  return 0;
}
