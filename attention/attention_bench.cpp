// CPU forward timing of USWAttn — the fused CPU kernel, the blocked libtorch version and the
// dense reference — over sequence lengths.
// Writes a table to stdout and the numbers as JSON (see --help).
#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "longqa/attention.h"

namespace la = longqa::attention;

namespace {

constexpr int64_t kB = 1, kH = 12, kBlock = 64, kPacked = 64;
int64_t head_dim = 64;  // --dh
// The reference materialises (B,H,n,s+n) logits plus a bias of the same size; past this
// many bytes of logits it would not fit next to everything else in memory.
constexpr double kReferenceLimitBytes = 4.0 * (1ull << 30);

const char* kUsage =
    "Usage: attention_bench [--out PATH] [--reps N] [--threads N] [--dh N] [--quick] [--help]\n"
    "Times the usw_attention forward on the CPU (fp32, InferenceMode, B=1 H=12 dh=64 b=64 s=64)\n"
    "for n = 1k..64k: the fused CPU kernel and the blocked version always, the dense reference\n"
    "while its (n, s+n) logits stay under 4 GiB. Reports the median of the repetitions after one\n"
    "warm-up run, and the fused kernel's largest difference from the blocked version.\n"
    "  --dh N      head size (default 64; default-en's is 32)\n"
    "  --fused-only  time the fused kernel alone (for a profiler; still writes --out)\n"
    "  --out PATH  JSON output (default bench/results/attention_cpu.json, relative to the\n"
    "              current directory)\n"
    "  --reps N    timed repetitions per measurement (default 5)\n"
    "  --threads N intra-op threads (default: torch's, one per core). On a machine shared\n"
    "              with other jobs, 1 avoids OpenMP threads waiting on descheduled peers\n"
    "  --quick     smoke run: n = 1k and 2k, one repetition (still writes --out)\n"
    "  --help      this text\n";

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

la::UswInputs make_inputs(int64_t n) {
  torch::manual_seed(0);
  la::UswInputs in;
  in.q = torch::randn({kB, kH, n, head_dim});
  in.k = torch::randn({kB, kH, n, head_dim});
  in.v = torch::randn({kB, kH, n, head_dim});
  in.packed_k = torch::randn({kB, kH, kPacked, head_dim});
  in.packed_v = torch::randn({kB, kH, kPacked, head_dim});
  in.valid = torch::ones({kB, n}, torch::kBool);
  in.bias = {torch::full({kH}, 0.1), torch::full({kH}, 0.05), torch::full({kH}, 0.05)};
  in.block_size = kBlock;
  return in;
}

struct Timing {
  double median_ms, min_ms;
};

// Wall time of `reps` runs after one warm-up; `out` keeps the last result. The minimum is
// kept too: on a shared machine it shows how much of the median is other processes.
template <class F>
Timing time_ms(F&& run, int reps, at::Tensor& out) {
  out = run();
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    out = run();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front()};
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path = "bench/results/attention_cpu.json";
  int reps = 5;
  bool quick = false, fused_only = false;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--quick") {
      quick = true;
    } else if (arg == "--out" && a + 1 < argc) {
      out_path = argv[++a];
    } else if (arg == "--threads" && a + 1 < argc) {
      at::set_num_threads(std::max(1, std::atoi(argv[++a])));
    } else if (arg == "--fused-only") {
      fused_only = true;
    } else if (arg == "--dh" && a + 1 < argc) {
      head_dim = std::max(1, std::atoi(argv[++a]));
    } else if (arg == "--reps" && a + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++a]));
    } else {
      std::cerr << "attention_bench: bad argument '" << arg << "'\n" << kUsage;
      return 2;
    }
  }
  std::vector<int64_t> sizes = {1024, 2048, 4096, 8192, 16384, 32768, 65536};
  if (quick) {
    sizes = {1024, 2048};
    reps = 1;
  }

  const std::string load_at_start = load_average();
  c10::InferenceMode inference;
  nlohmann::json results = nlohmann::json::array();
  std::printf("%8s %12s %14s %16s %10s %14s\n", "n", "fused [ms]", "blocked [ms]", "reference [ms]", "speed-up",
              "max |diff|");
  for (const auto n : sizes) {
    const auto in = make_inputs(n);
    at::Tensor blocked, reference, fused;
    const auto fus = time_ms([&] { return la::usw_attention_fused_cpu(in); }, reps, fused);
    if (fused_only) {
      std::printf("%8lld %12.2f\n", (long long)n, fus.median_ms);
      results.push_back({{"n", n}, {"fused_ms", fus.median_ms}, {"fused_min_ms", fus.min_ms}});
      continue;
    }
    const auto blk = time_ms([&] { return la::usw_attention_blocked(in); }, reps, blocked);
    nlohmann::json row = {{"n", n}, {"blocked_ms", blk.median_ms}, {"blocked_min_ms", blk.min_ms}};
    row["fused_ms"] = fus.median_ms;
    row["fused_min_ms"] = fus.min_ms;
    row["fused_max_abs_diff_vs_blocked"] = (fused - blocked).abs().max().item<double>();
    std::printf("%8lld %12.2f", (long long)n, fus.median_ms);
    const double logits_bytes = double(kB * kH * n * (kPacked + n)) * sizeof(float);
    if (logits_bytes <= kReferenceLimitBytes) {
      const auto ref = time_ms([&] { return la::usw_attention_reference(in); }, reps, reference);
      const double diff = (blocked - reference).abs().max().item<double>();
      row["reference_ms"] = ref.median_ms;
      row["reference_min_ms"] = ref.min_ms;
      row["max_abs_diff"] = diff;
      std::printf(" %14.2f %16.2f %9.2fx %14.2e\n", blk.median_ms, ref.median_ms,
                  ref.median_ms / blk.median_ms, diff);
    } else {
      row["reference_ms"] = nullptr;
      row["reference_skipped"] =
          "dense logits would take " + std::to_string(int(logits_bytes / (1 << 20))) + " MiB";
      std::printf(" %14.2f %16s %10s %14s\n", blk.median_ms, "skipped", "-",
                  "-");
    }
    results.push_back(row);
  }

  auto at_n = [&](int64_t n) -> const nlohmann::json* {
    for (const auto& r : results)
      if (r["n"] == n) return &r;
    return nullptr;
  };
  nlohmann::json summary = nlohmann::json::object();
  if (auto* r4 = at_n(4096), *r32 = at_n(32768); r4 && r32 && !fused_only) {
    const double ratio = (*r32)["blocked_ms"].get<double>() / (*r4)["blocked_ms"].get<double>();
    summary["blocked_ratio_32k_over_4k"] = ratio;
    summary["linear_growth_ok"] = ratio <= 10.0;
    std::printf("blocked 32k / 4k = %.2f (8x tokens; requirement <= 10)\n", ratio);
  }
  if (auto* r4 = at_n(4096), *r32 = at_n(32768); r4 && r32 && !fused_only) {
    summary["fused_ratio_32k_over_4k"] = (*r32)["fused_ms"].get<double>() / (*r4)["fused_ms"].get<double>();
    summary["fused_speedup_over_blocked_at_4k"] = (*r4)["blocked_ms"].get<double>() / (*r4)["fused_ms"].get<double>();
    summary["fused_speedup_over_blocked_at_32k"] = (*r32)["blocked_ms"].get<double>() / (*r32)["fused_ms"].get<double>();
  }
  if (auto* r8 = at_n(8192); r8 && !fused_only && !(*r8)["reference_ms"].is_null()) {
    const bool beats = (*r8)["blocked_ms"].get<double>() < (*r8)["reference_ms"].get<double>();
    summary["blocked_beats_reference_at_8k"] = beats;
    std::printf("blocked beats the reference at 8k: %s\n", beats ? "yes" : "no");
  }

  const nlohmann::json report = {
      {"benchmark", "usw_attention forward, CPU"},
      {"machine",
       {{"cpu", cpu_model()},
        {"cores", std::thread::hardware_concurrency()},
        {"torch_threads", at::get_num_threads()},
        {"torch_version", TORCH_VERSION},
        {"load_average_at_start", load_at_start},
        {"load_average_at_end", load_average()}}},
      {"dtype", "float32"},
      {"mode", "c10::InferenceMode"},
      {"shape", {{"B", kB}, {"H", kH}, {"dh", head_dim}, {"block_size", kBlock}, {"packed", kPacked}}},
      {"timing",
       {{"warmup", 1}, {"reps", reps}, {"statistic", "median (min also kept)"}, {"quick", quick}}},
      {"reference_limit_bytes", kReferenceLimitBytes},
      {"results", results},
      {"summary", summary}};
  const std::filesystem::path path(out_path);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << report.dump(2) << '\n';
  std::cout << "wrote " << path.string() << '\n';
  return 0;
}
