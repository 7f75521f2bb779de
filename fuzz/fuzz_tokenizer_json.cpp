// tokenizer.json (BPE, Unigram, WordPiece with their normalizers, pre-tokenizers and
// post-processors): any bytes as the file; what loads must tokenize any text with offsets
// that slice it. Input: the file, then optionally "\n\x00\n" and a text to tokenize.
#include <string>

#include "fuzz_util.h"
#include "longqa/common/errors.h"
#include "longqa/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string marker("\n\0\n", 3);
  const size_t split = input.find(marker);
  const std::string file = input.substr(0, split);
  const std::string text = split == std::string::npos ? "Hello, WORLD! naïve café 가나다라 日本語 😀 x\t\n(1,234)"
                                                      : input.substr(split + marker.size());
  const auto path = fuzz::scratch() / "tokenizer.json";
  fuzz::write_file(path, file);
  try {
    const auto tokenizer = longqa::Tokenizer::from_tokenizer_json(path.string());
    try {
      fuzz::check_offsets(tokenizer.encode(text), text);
      fuzz::check_offsets(tokenizer.encode_pair(text, "a pair"), text, "a pair");
    } catch (const std::invalid_argument&) {
      // invalid UTF-8 in the text: refused
    }
  } catch (const longqa::FileFormatError&) {
    // a file we do not implement, or a broken one, named as such
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
