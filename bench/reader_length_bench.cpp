// Reader latency and memory against document length, for one real model directory (one per
// process, so that the peak memory is the model's): it reads documents of 512 ... 32k tokens
// (real English text: the bundled sample corpus, repeated) with Reader::read end to end; the
// median time and the process's peak resident memory after each length (lengths ascend, so
// the peak belongs to the longest so far) are recorded. A LittleBird model reads up to
// max_seq_length tokens in one window; a BERT model reads 512-token windows. Prints a table,
// writes JSON.
//
// --device cuda[:N] --dtype bfloat16|float16|float32 put the weights there (int8: CPU only) (peak memory is then
// the CUDA caching allocator's peak, reset before each length). --mode forward times the QA
// model alone (QaModel::forward on random token ids, no tokenizer, no answer search) for each
// --batches size, the figure bench/reader_race.py compares with Hugging Face's models.
// --logits IN.safetensors OUT.safetensors runs one forward on IN's input_ids, token_type_ids and
// attention_mask and writes start_logits/end_logits (float32) to OUT: the GPU equivalence
// check (scripts/gpu_hf_equivalence.py) compares them with transformers' logits.
//
//   reader_length_bench --model models/default-en [--lengths 512,1024,...] [--reps 3]
//                       [--threads 2] [--out bench/results/reader_length_<name>.json]
//                       [--device cuda] [--dtype bfloat16] [--mode read|forward] [--batches 1,8]
#include <sys/resource.h>
#include <torch/torch.h>
#ifdef LONGQA_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "longqa/qa_model.h"
#include "longqa/reader.h"
#include "longqa/safetensors.h"
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

// Peak memory so far: the CUDA caching allocator's (MiB) on a CUDA device, else the process's RSS.
double peak_mib(const at::Device& device) {
#ifdef LONGQA_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    return static_cast<double>(stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak) /
           (1024.0 * 1024.0);
  }
#endif
  return peak_rss_mib();
}

void reset_peak(const at::Device& device) {
#ifdef LONGQA_WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::emptyCache();
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index() < 0 ? 0 : device.index());
  }
#endif
  (void)device;
}

void synchronize(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? -1 : device.index());
}

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32") return at::kFloat;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  if (name == "float16" || name == "fp16") return at::kHalf;
  if (name == "int8") return at::kFloat;  // then quantized (QaModel::quantized_int8)
  throw std::invalid_argument("--dtype: float32, bfloat16, float16 or int8, not " + name);
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
  std::string device_name = "cpu", dtype_name = "float32", mode = "read", logits_in, logits_out;
  std::vector<int64_t> batches = {1};
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
    else if (a == "--device") device_name = value();
    else if (a == "--dtype") dtype_name = value();
    else if (a == "--mode") mode = value();
    else if (a == "--batches") batches = parse_lengths(value());
    else if (a == "--logits") {
      logits_in = value();
      logits_out = value();
    } else {
      std::cout << "usage: reader_length_bench --model DIR [--lengths 512,1024,...] [--reps N] [--threads N]\n"
                   "       [--text corpus.jsonl] [--out FILE (default bench/results/reader_length_<model name>.json)]\n"
                   "       [--device cpu|cuda[:N]] [--dtype float32|bfloat16|float16|int8]\n"
                   "       [--mode read|forward] [--batches 1,8]   (forward: QaModel::forward on random ids, B x n)\n"
                   "       [--logits IN.safetensors OUT.safetensors]  (one forward on IN's inputs, logits to OUT)\n"
                   "Reader::read latency and peak memory against document length for one model.\n";
      return a == "--help" ? 0 : 2;
    }
  }
  if (mode != "read" && mode != "forward") {
    std::cerr << "--mode: read or forward\n";
    return 2;
  }
  if (model_dir.empty()) {
    std::cerr << "give --model (see --help)\n";
    return 2;
  }
  if (out_path.empty())
    out_path = source + "/bench/results/reader_length_" + fs::path(model_dir).lexically_normal().filename().string() + ".json";
  set_compute_threads(threads);
  const at::Device device(device_name);
  const at::ScalarType dtype = parse_dtype(dtype_name);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    std::cerr << "--device " << device_name << ": no CUDA device\n";
    return 3;
  }
  auto model = std::make_shared<QaModel>(QaModel::load(model_dir));
  model->to(device, dtype);
  if (dtype_name == "int8") model = std::make_shared<QaModel>(model->quantized_int8());
  c10::InferenceMode inference;
  if (!logits_in.empty()) {
    SafetensorsFile in(logits_in);
    auto valid = in.get("attention_mask").to(at::kBool).to(device);
    auto types = in.get("token_type_ids").to(device);
    auto logits = model->forward({in.get("input_ids").to(device), types, valid});
    save_safetensors(logits_out, {{"start_logits", logits.start.to(at::kCPU).contiguous()},
                                  {"end_logits", logits.end.to(at::kCPU).contiguous()}});
    std::cout << "wrote " << logits_out << "\n";
    return 0;
  }
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
                            {"device", device_name},
                            {"dtype", dtype_name},
                            {"mode", mode},
                            {"question", question},
                            {"text", fs::path(text_path).lexically_relative(source).string()},
                            {"reps", reps}};
  std::printf("%-28s %5s %8s %10s %12s %10s\n", "model", "B", "tokens", "ms", "tokens/s", "peak MiB");
  {
    const std::string& dir = model_dir;
    const Reader reader(model, std::make_shared<Tokenizer>(Tokenizer::from_directory(dir)));
    const auto& config = reader.model().config();
    nlohmann::json rows = nlohmann::json::array();
    const std::vector<int64_t> batch_sizes = mode == "forward" ? batches : std::vector<int64_t>{1};
    for (int64_t n : lengths) {
      for (int64_t batch : batch_sizes) {
        nlohmann::json row = {{"tokens", n}, {"batch", batch}};
        try {
          reset_peak(device);
          std::function<void()> step;
          std::string document;
          EncoderInput input;
          if (mode == "read") {
            document = document_of(reader.tokenizer(), text, n);
            step = [&] { reader.read(question, document); };
          } else {
            torch::manual_seed(0);
            const int32_t vocab = reader.tokenizer().vocab_size();
            // Random ids in the tokenizer's pair template around a 32-token question, so that families whose
            // attention depends on the question (BigBird's mask, Longformer's global tokens) see one.
            auto ids = torch::randint(5, std::max(6, vocab), {batch, n}, at::kLong);
            const auto pair = reader.tokenizer().pair_template();
            const int64_t question = std::min<int64_t>(32, std::max<int64_t>(0, n - pair.special_tokens() - 1));
            std::vector<std::pair<int64_t, int32_t>> specials;
            for (size_t k = 0; k < pair.before.size(); ++k) specials.emplace_back(k, pair.before[k]);
            for (size_t k = 0; k < pair.between.size(); ++k)
              specials.emplace_back(pair.document_offset(question) - pair.between.size() + k, pair.between[k]);
            for (size_t k = 0; k < pair.after.size(); ++k) specials.emplace_back(n - pair.after.size() + k, pair.after[k]);
            for (const auto& [at, id] : specials)
              if (at >= 0 && at < n) ids.select(1, at).fill_(id);
            input.input_ids = ids.to(device);
            input.token_type_ids = torch::zeros({batch, n}, at::kLong).to(device);
            input.valid = torch::ones({batch, n}, at::kBool).to(device);
            step = [&] {
              auto logits = model->forward(input);
              synchronize(device);
            };
          }
          std::vector<double> times;
          for (int r = 0; r <= reps; ++r) {  // the first is a warm-up
            const auto start = std::chrono::steady_clock::now();
            step();
            const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
            if (r > 0) times.push_back(ms);
          }
          std::sort(times.begin(), times.end());
          const double median = times[times.size() / 2];
          const double peak = peak_mib(device);  // the allocator's on CUDA, else the process's RSS
          const double tps = static_cast<double>(n * batch) / median * 1000;
          std::printf("%-28s %5lld %8lld %10.1f %12.0f %10.0f\n", fs::path(dir).filename().c_str(),
                      static_cast<long long>(batch), static_cast<long long>(n), median, tps, peak);
          row.update({{"median_ms", median}, {"tokens_per_second", tps}, {"status", "ok"},
                      {"peak_rss_mib", peak_rss_mib()}});
          if (device.is_cuda()) row["peak_gpu_mib"] = peak;
        } catch (const std::exception& e) {  // out of memory at one length is a result, not the end
          std::string message = e.what();
          message = message.substr(0, message.find('\n'));
          const bool oom = message.find("out of memory") != std::string::npos;
          std::printf("%-28s %5lld %8lld  %s\n", fs::path(dir).filename().c_str(), static_cast<long long>(batch),
                      static_cast<long long>(n), oom ? "out of memory" : message.c_str());
          row["status"] = oom ? "oom" : "error: " + message.substr(0, 300);
        }
        std::fflush(stdout);
        rows.push_back(row);
        auto partial = results;  // written after every row, so that a killed run leaves its rows
        partial["rows"] = rows;
        std::ofstream(out_path) << partial.dump(2) << "\n";
      }
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
