// A model directory's small JSON files: config.json (every family's fields) and
// tokenizer_config.json / special_tokens_map.json beside a vocab.txt. The first byte picks
// which; the rest is the file.
#include <string>

#include "fuzz_util.h"
#include "longqa/common/errors.h"
#include "longqa/model_config.h"
#include "longqa/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 3) {
      case 0:
        longqa::ModelConfig::from_json_string(file, "config.json");
        break;
      case 1:
      case 2: {
        const auto dir = fuzz::scratch() / "model";
        static const bool vocab_written = [&] {
          std::filesystem::create_directories(dir);
          fuzz::write_file(dir / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n<s>\n</s>\nhello\nworld\n##s\n");
          return true;
        }();
        (void)vocab_written;
        const char* name = data[0] % 3 == 1 ? "tokenizer_config.json" : "special_tokens_map.json";
        std::filesystem::remove(dir / "tokenizer_config.json");
        std::filesystem::remove(dir / "special_tokens_map.json");
        fuzz::write_file(dir / name, file);
        const auto tokenizer = longqa::Tokenizer::from_directory(dir.string());
        const std::string text = "Hello worlds [SEP] <s>";
        fuzz::check_offsets(tokenizer.encode(text), text);
        break;
      }
    }
  } catch (const longqa::FileFormatError&) {
    // a refused file, named as such
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
