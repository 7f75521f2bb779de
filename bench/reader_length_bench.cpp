// Reader latency and memory against document length, for one real model directory (one per
// process, so that the peak memory is the model's): it reads documents of 512 ... 32k tokens
// (real English text: the bundled sample corpus, repeated) with Reader::read end to end; the
// median time and the process's peak resident memory after each length (lengths ascend, so
// the peak belongs to the longest so far) are recorded. A LittleBird model reads up to
// max_seq_length tokens in one window; a BERT model reads 512-token windows. Prints a table,
// writes JSON.
//
//   reader_length_bench --model models/default-en [--lengths 512,1024,...] [--reps 3]
//                       [--threads 2] [--out bench/results/reader_length_<name>.json]
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "longqa/qa_model.h"
#include "longqa/reader.h"
#include "longqa/threads.h"
#include "longqa/tokenizer.h"

using namespace longqa;
namespace fs = std::filesystem;

namespace {

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// A prefix of `text` (repeated as often as needed) that the tokenizer makes `tokens` tokens of.
std::string document_of(const Tokenizer& tokenizer, const std::string& text, int64_t tokens) {
  std::string source = text;
  auto pieces = tokenizer.tokenize(source);
  while (static_cast<int64_t>(pieces.size()) < tokens) {
    source += "\n\n" + text;
    pieces = tokenizer.tokenize(source);
  }
  return source.substr(0, static_cast<size_t>(pieces[static_cast<size_t>(tokens - 1)].end));
}

std::vector<int64_t> parse_lengths(const std::string& list) {
  std::vector<int64_t> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoll(item));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string source = LONGQA_SOURCE_DIR;
  std::string model_dir, out_path;
  std::string text_path = source + "/examples/data/sample_corpus.jsonl";
  std::vector<int64_t> lengths = {512, 1024, 2048, 4096, 8192, 16384, 32768};
  int reps = 3, threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--model") model_dir = value();
    else if (a == "--out") out_path = value();
    else if (a == "--text") text_path = value();
    else if (a == "--lengths") lengths = parse_lengths(value());
    else if (a == "--reps") reps = std::stoi(value());
    else if (a == "--threads") threads = std::stoi(value());
    else {
      std::cout << "usage: reader_length_bench --model DIR [--lengths 512,1024,...] [--reps N] [--threads N]\n"
                   "       [--text corpus.jsonl] [--out FILE (default bench/results/reader_length_<model name>.json)]\n"
                   "Reader::read latency and peak memory against document length for one model.\n";
      return a == "--help" ? 0 : 2;
    }
  }
  if (model_dir.empty()) {
    std::cerr << "give --model (see --help)\n";
    return 2;
  }
  if (out_path.empty())
    out_path = source + "/bench/results/reader_length_" + fs::path(model_dir).lexically_normal().filename().string() + ".json";
  set_compute_threads(threads);
  std::string text;
  {
    std::ifstream in(text_path);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) text += (text.empty() ? "" : "\n\n") + nlohmann::json::parse(line).at("text").get<std::string>();
  }
  if (text.empty()) throw std::runtime_error(text_path + ": no text");
  const std::string question = "Which team won the game and by how many points?";

  nlohmann::json results = {{"benchmark", "reader_length"},
                            {"machine", {{"threads", at::get_num_threads()},
                                         {"hardware_concurrency", std::thread::hardware_concurrency()},
                                         {"torch", TORCH_VERSION}}},
                            {"device", "cpu"},
                            {"dtype", "float32"},
                            {"question", question},
                            {"text", fs::path(text_path).lexically_relative(source).string()},
                            {"reps", reps}};
  std::printf("%-28s %8s %10s %12s %10s\n", "model", "tokens", "ms", "tokens/s", "peak MiB");
  {
    const std::string& dir = model_dir;
    Reader reader(dir);
    const auto& config = reader.model().config();
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t n : lengths) {
      const std::string document = document_of(reader.tokenizer(), text, n);
      std::vector<double> times;
      for (int r = 0; r <= reps; ++r) {  // the first is a warm-up
        const auto start = std::chrono::steady_clock::now();
        reader.read(question, document);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        if (r > 0) times.push_back(ms);
      }
      std::sort(times.begin(), times.end());
      const double median = times[times.size() / 2];
      const double peak = peak_rss_mib();
      std::printf("%-28s %8lld %10.1f %12.0f %10.0f\n", fs::path(dir).filename().c_str(), static_cast<long long>(n),
                  median, static_cast<double>(n) / median * 1000, peak);
      std::fflush(stdout);
      rows.push_back({{"tokens", n}, {"median_ms", median}, {"tokens_per_second", static_cast<double>(n) / median * 1000},
                      {"peak_rss_mib", peak}});
    }
    results["model"] = {{"path", fs::weakly_canonical(dir).lexically_relative(fs::weakly_canonical(source)).string()},
                        {"model_type", config.model_type},
                        {"layers", config.num_hidden_layers},
                        {"hidden", config.hidden_size},
                        {"max_window_tokens", config.max_window_tokens()}};
    results["rows"] = rows;
  }
  std::ofstream(out_path) << results.dump(2) << "\n";
  std::cout << "wrote " << out_path << "\n";
  return 0;
}
