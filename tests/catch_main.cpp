// The main of every test executable: Catch2's, plus skipped cases (test_util.h's skip_unless).
// A run in which no case failed but one was skipped exits with kSkipExitCode, which ctest
// reports as skipped (SKIP_RETURN_CODE in tests/CMakeLists.txt), never as passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "test_util.h"

namespace longqa::test {
namespace {

std::vector<std::string>& skipped_cases() {
  static std::vector<std::string> cases;
  return cases;
}

}  // namespace

bool skip_unless(bool available, const std::string& why) {
  if (available) return false;
  skipped_cases().push_back(Catch::getResultCapture().getCurrentTestName() + ": " + why);
  // The skip is the case's one (passing) assertion, so -w NoAssertions does not fail it; the
  // exit code then tells ctest that it did not run.
  SUCCEED("skipped: " << why);
  return true;
}

bool skip_unless_gpu(bool cuda_available) {
  const char* require = std::getenv("LONGQA_REQUIRE_GPU");
  if (!cuda_available && require && std::string(require) == "1")
    FAIL("LONGQA_REQUIRE_GPU=1 but there is no CUDA device");
  return skip_unless(cuda_available, "no CUDA device (LONGQA_REQUIRE_GPU=1 makes this a failure)");
}

}  // namespace longqa::test

int main(int argc, char* argv[]) {
  Catch::Session session;
  if (const int bad_arguments = session.applyCommandLine(argc, argv)) return bad_arguments;
  // A test filter that matches no case fails the run (-w NoTests; Catch2 v2 takes one -w
  // only, and ctest's entries pass -w NoAssertions).
  auto& config = session.configData();
  config.warnings = static_cast<Catch::WarnAbout::What>(config.warnings | Catch::WarnAbout::NoTests);
  const int failed = session.run();
  // Catch returns the number of failed assertions: never let that read as "skipped".
  if (failed != 0) return failed == longqa::test::kSkipExitCode ? failed + 1 : failed;
  const auto& skipped = longqa::test::skipped_cases();
  if (skipped.empty()) return 0;
  std::cout << skipped.size() << " test case(s) skipped (exit code " << longqa::test::kSkipExitCode << "):\n";
  for (const auto& line : skipped) std::cout << "  " << line << "\n";
  return longqa::test::kSkipExitCode;
}
