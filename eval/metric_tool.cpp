// longqa_metric_tool: the C++ side of tests/eval/compare_official.py, also usable to
// score a prediction file.
//   score KIND|auto DATASET PREDICTIONS  per-question EM/F1 and the totals, as JSON
//   normalize KIND                       stdin: JSON array of strings; stdout: for each,
//   html-text                            {"cps": [code points]} or {"error": message}
//   unicode-table                        one line per code point with the Python str
//                                        properties the metrics use (see below)
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "html_text.h"
#include "longqa/qa_dataset.h"
#include "longqa/qa_metrics.h"
#include "python_text.h"

namespace {

using json = nlohmann::json;
using namespace longqa::eval;

int score(const std::string& kind_name, const std::string& dataset_path, const std::string& predictions_path) {
  const QaDataset dataset = read_qa_dataset(dataset_path);
  const PredictionMap predictions = read_predictions(predictions_path);
  const MetricKind kind = kind_name == "auto" ? default_metric(dataset) : parse_metric_kind(kind_name);
  json out = {{"kind", to_string(kind)}, {"format", to_string(dataset.format)}, {"warnings", dataset.warnings}};
  json questions = json::array();
  for (const QaQuestion& question : dataset.questions) {
    json entry = {{"id", question.id}};
    const auto it = predictions.find(question.id);
    entry["answered"] = it != predictions.end();
    if (it != predictions.end()) {
      std::vector<std::string> golds;
      for (const QaAnswer& answer : question.answers) golds.push_back(answer.text);
      try {
        entry["exact_match"] = exact_match(kind, it->second, golds) ? 1 : 0;
        entry["f1"] = f1(kind, it->second, golds);
      } catch (const std::exception& e) {
        entry["error"] = e.what();
      }
    }
    questions.push_back(std::move(entry));
  }
  out["questions"] = std::move(questions);
  try {
    const Evaluation totals = evaluate(kind, dataset, predictions);
    out["exact_match"] = totals.exact_match;
    out["f1"] = totals.f1;
    out["total"] = totals.total;
    out["answered"] = totals.answered;
  } catch (const std::exception& e) {
    out["error"] = e.what();
  }
  std::cout << out.dump() << "\n";
  return 0;
}

// Applies `fn` to each string of a JSON array read from stdin.
template <typename Fn>
int map_strings(Fn fn) {
  const json input = json::parse(std::cin);
  json out = json::array();
  for (const json& item : input) {
    try {
      const std::u32string text = longqa::eval::detail::decode_utf8(item.get<std::string>(), "input");
      const std::u32string result = fn(text);
      out.push_back({{"cps", std::vector<uint32_t>(result.begin(), result.end())}});
    } catch (const std::exception& e) {
      out.push_back({{"error", e.what()}});
    }
  }
  std::cout << out.dump() << "\n";
  return 0;
}

// Per code point c: hex c, isspace, \w, lower(c) as hex code points, and whether Σ
// lowers to final ς in "A" c "Σ", "A" "Σ" c and c "Σ" (Python's Final_Sigma rule).
int unicode_table() {
  using namespace longqa::eval::detail;
  std::string line;
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%x %d %d ", static_cast<unsigned>(c), py_isspace(c) ? 1 : 0,
                  py_isword(c) ? 1 : 0);
    line = buffer;
    const std::u32string lower = py_lower(std::u32string(1, c));
    for (size_t i = 0; i < lower.size(); ++i) {
      std::snprintf(buffer, sizeof buffer, i ? ",%x" : "%x", static_cast<unsigned>(lower[i]));
      line += buffer;
    }
    const std::u32string sigma(1, 0x3A3);
    const bool after = py_lower(U"A" + std::u32string(1, c) + sigma).back() == 0x3C2;
    const bool before = py_lower(U"A" + sigma + std::u32string(1, c))[1] == 0x3C2;
    const bool alone = py_lower(std::u32string(1, c) + sigma).back() == 0x3C2;
    line += after ? " 1" : " 0";
    line += before ? "1" : "0";
    line += alone ? "1\n" : "0\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  return 0;
}

int usage() {
  std::cerr << "usage: longqa_metric_tool score KIND|auto DATASET PREDICTIONS\n"
               "       longqa_metric_tool normalize KIND   < strings.json\n"
               "       longqa_metric_tool html-text        < strings.json\n"
               "       longqa_metric_tool unicode-table\n"
               "KIND: squad_v1, korquad_v1, korquad_v2\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 4 && args[0] == "score") return score(args[1], args[2], args[3]);
    if (args.size() == 2 && args[0] == "normalize") {
      const MetricKind kind = parse_metric_kind(args[1]);
      return map_strings([kind](const std::u32string& text) { return normalize_code_points(kind, text); });
    }
    if (args.size() == 1 && args[0] == "html-text")
      return map_strings([](const std::u32string& text) { return longqa::eval::detail::html_get_text(text); });
    if (args.size() == 1 && args[0] == "unicode-table") return unicode_table();
    return usage();
  } catch (const std::exception& e) {
    std::cerr << "longqa_metric_tool: " << e.what() << "\n";
    return 1;
  }
}
