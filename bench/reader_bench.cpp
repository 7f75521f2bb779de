// Times the whole reader on the CPU: the QA model forward for a small LittleBird config
// (6 layers, hidden 384) on a 4k-token document, the same config with dense BERT
// attention for comparison, and Reader::read end to end (tokenize, window, decode).
// Prints a table and writes JSON (default bench/results/reader_cpu.json).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "longqa/qa_model.h"
#include "longqa/reader.h"
#include "longqa/tokenizer.h"

using namespace longqa;

namespace {

template <typename F>
double median_ms(F&& f, int reps) {
  f();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

ModelConfig small_config(const std::string& type, int64_t n) {
  ModelConfig c;
  c.model_type = type;
  c.vocab_size = 32500;
  c.hidden_size = 384;
  c.num_hidden_layers = 6;
  c.num_attention_heads = 6;
  c.intermediate_size = 1536;
  c.block_size = 64;
  c.pack_size = 64;
  c.max_seq_length = n;
  c.max_position_embeddings = n;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path = "bench/results/reader_cpu.json";
  int64_t n = 4096;
  int reps = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help") {
      std::cout << "usage: reader_bench [--out FILE] [--tokens N] [--reps R]\n"
                   "Times the QA model forward (LittleBird vs dense BERT attention, 6 layers, hidden 384)\n"
                   "and Reader::read end to end on an N-token document (default 4096) on the CPU.\n";
      return 0;
    } else if (a == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else if (a == "--tokens" && i + 1 < argc) {
      n = std::stoll(argv[++i]);
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::stoi(argv[++i]);
    } else {
      std::cerr << "unknown argument " << a << " (see --help)\n";
      return 2;
    }
  }
  c10::InferenceMode guard;
  nlohmann::json results = {{"machine", {{"threads", at::get_num_threads()},
                                         {"hardware_concurrency", std::thread::hardware_concurrency()},
                                         {"torch", TORCH_VERSION}}},
                            {"dtype", "float32"},
                            {"tokens", n},
                            {"config", {{"layers", 6}, {"hidden", 384}, {"heads", 6}, {"ffn", 1536},
                                        {"block", 64}, {"pack", 64}}}};
  auto ids = at::randint(5, 32500, {1, n}, at::kLong);
  EncoderInput input{ids, at::zeros({1, n}, at::kLong), at::ones({1, n}, at::kBool)};

  std::printf("%-34s %12s %14s\n", "what", "ms", "tokens/s");
  for (const std::string type : {"littlebird", "bert"}) {
    const auto model = QaModel::random(small_config(type, n), 0);
    const double ms = median_ms([&] { model.forward(input); }, reps);
    const std::string name = type == "bert" ? "forward, dense attention (bert)" : "forward, littlebird";
    std::printf("%-34s %12.1f %14.0f\n", name.c_str(), ms, n / ms * 1000);
    results["forward_ms"][type] = ms;
  }

  // Reader end to end: a synthetic document of about n tokens over a synthetic vocabulary.
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (int i = 0; i < 32495; ++i) vocab.push_back("t" + std::to_string(i));
  auto tokenizer = std::make_shared<Tokenizer>(vocab, TokenizerOptions{});
  std::string document;
  for (int64_t i = 0; i < n - 20; ++i) document += "t" + std::to_string((i * 7919) % 32495) + " ";
  auto model = std::make_shared<QaModel>(QaModel::random(small_config("littlebird", n), 0));
  Reader reader(model, tokenizer);
  const double read_ms = median_ms([&] { reader.read("t1 t2 t3 t4 t5", document); }, reps);
  std::printf("%-34s %12.1f %14.0f\n", "Reader::read end to end", read_ms, n / read_ms * 1000);
  results["reader_read_ms"] = read_ms;

  std::ofstream(out_path) << results.dump(2) << "\n";
  std::cout << "wrote " << out_path << "\n";
  return 0;
}
