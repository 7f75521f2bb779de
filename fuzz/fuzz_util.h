// What the harnesses share: a property check that crashes (so libFuzzer keeps the input), a
// scratch folder for parsers that read files, and the offset property every tokenizer and
// text converter must keep.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "longqa/tokenizer.h"

namespace fuzz {

[[noreturn]] inline void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "property violated: %s: %s\n", what, detail.c_str());
  std::abort();
}
#define FUZZ_CHECK(cond, detail) \
  do {                           \
    if (!(cond)) ::fuzz::violated(#cond, (detail)); \
  } while (0)

// One folder per process (parallel fuzzing jobs each get their own), removed by no one: it
// lives under TMPDIR, which scripts/fuzz.sh points at its build folder.
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto d = std::filesystem::path(tmp ? tmp : "/tmp") / ("longqa-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Every token of the text's sequence has a byte range inside it, in order; tokens the
// post-processor added have [0, 0).
inline void check_offsets(const longqa::Encoding& e, std::string_view text, std::string_view pair = {}) {
  int64_t last_begin[2] = {0, 0};
  for (size_t i = 0; i < e.tokens.size(); ++i) {
    const auto& t = e.tokens[i];
    const int sequence = i < e.sequence_ids.size() ? e.sequence_ids[i] : 0;
    const std::string where = "token " + std::to_string(i) + " '" + t.text + "' [" + std::to_string(t.begin) + ", " +
                              std::to_string(t.end) + ")";
    if (sequence < 0) {
      FUZZ_CHECK(t.begin == 0 && t.end == 0, where);
      continue;
    }
    const size_t size = sequence == 0 ? text.size() : pair.size();
    FUZZ_CHECK(t.begin >= 0 && t.begin <= t.end && static_cast<size_t>(t.end) <= size, where);
    FUZZ_CHECK(t.begin >= last_begin[sequence], where + " starts before the token before it");
    last_begin[sequence] = t.begin;
  }
}

}  // namespace fuzz
