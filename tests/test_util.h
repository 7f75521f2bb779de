// Small helpers shared by the tests: temporary directories and files, tiny models.
#pragma once
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace longqa::test {

// Skipping a case that cannot run here (no GPU, no ../shared/data, no fixture); defined in
// catch_main.cpp. A case starts with `if (longqa::test::skip_unless(available, "why")) return;`.
// skip_unless returns true when `available` is false: it records the skip (one passing
// assertion, so `-w NoAssertions` does not fail the case) and the run, if nothing failed,
// exits with kSkipExitCode, which ctest reports as skipped. Cases that may skip in a default
// run carry a tag listed as OPTIONAL in tests/CMakeLists.txt, so they are a ctest entry of
// their own and never turn their executable's other cases into "skipped".
constexpr int kSkipExitCode = 77;
bool skip_unless(bool available, const std::string& why);
// skip_unless for a case that needs a CUDA device (pass torch::cuda::is_available()); with
// LONGQA_REQUIRE_GPU=1 in the environment a missing device fails the case instead.
bool skip_unless_gpu(bool cuda_available);

// Runs a shell command and returns what it printed on stdout; `status` gets pclose's result (0 = success).
inline std::string command_output(const std::string& command, int& status) {
  std::string printed;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) {
    status = -1;
    return printed;
  }
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) printed.append(buffer, n);
  status = ::pclose(pipe);
  return printed;
}

// The message of what `f` throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "longqa") {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / (tag + "-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// A tiny lowercase vocabulary: the special tokens, "alpha", "omega", w0..w199 and a few pieces.
inline std::vector<std::string> tiny_vocab() {
  std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "alpha", "omega", "the", "##s", ",", "."};
  for (int i = 0; i < 200; ++i) v.push_back("w" + std::to_string(i));
  return v;
}

inline void write_vocab(const std::filesystem::path& dir, const std::vector<std::string>& vocab) {
  std::string text;
  for (const auto& t : vocab) text += t + "\n";
  write_file(dir / "vocab.txt", text);
  write_file(dir / "tokenizer_config.json", R"({"do_lower_case": true})");
}

}  // namespace longqa::test
