// SQuAD / KorQuAD 1.0 / KorQuAD 2.x dataset JSON, in evaluation mode (every malformed field
// named) and corpus mode (nothing throws: bad parts are listed as skipped), and predictions
// files. The first byte picks the reader.
#include <stdexcept>
#include <string>

#include "fuzz_util.h"
#include "longqa/qa_dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      try {
        longqa::eval::parse_qa_dataset(text, "dev.json");
      } catch (const std::runtime_error&) {
        // malformed input, named with its JSON path
      }
      break;
    case 1: {
      longqa::eval::QaReadOptions corpus;
      corpus.mode = longqa::eval::QaReadMode::corpus;
      longqa::eval::parse_qa_dataset(text, "dev.json", corpus);  // documented never to throw
      break;
    }
    case 2:
      try {
        longqa::eval::parse_predictions(text, "predictions.json");
      } catch (const std::runtime_error&) {
      }
      break;
  }
  return 0;
}
