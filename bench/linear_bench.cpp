// The reader's CPU linear layer: OpenBLAS sgemm in OpenMP row ranges (layers::fast_linear)
// against at::linear (MKL), and bfloat16 at::linear (oneDNN), for default-en's shapes
// (hidden 384, FFN 1536) at several token counts. Writes JSON (default
// bench/results/linear_cpu.json).
//   linear_bench [--threads 2] [--reps 5] [--out FILE]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "../reader/blas_linear.h"

namespace {

template <class F>
double median_ms(F&& run, int reps) {
  run();
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, reps = 5;
  std::string out_path = "bench/results/linear_cpu.json";
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--threads" && a + 1 < argc) threads = std::atoi(argv[++a]);
    else if (arg == "--reps" && a + 1 < argc) reps = std::max(1, std::atoi(argv[++a]));
    else if (arg == "--out" && a + 1 < argc) out_path = argv[++a];
    else {
      std::cerr << "usage: linear_bench [--threads 2] [--reps 5] [--out bench/results/linear_cpu.json]\n";
      return arg == "--help" ? 0 : 2;
    }
  }
  at::set_num_threads(threads);
  c10::InferenceMode guard;
  nlohmann::json rows = nlohmann::json::array();
  std::printf("%8s %6s %6s %14s %14s %14s\n", "tokens", "in", "out", "aten fp32 ms", "openblas ms", "aten bf16 ms");
  for (int64_t m : {128, 256, 512, 1024, 4096, 16384}) {
    for (auto [k, n] : {std::pair<int64_t, int64_t>{384, 384}, {384, 1536}, {1536, 384}}) {
      const auto x = torch::randn({m, k}), w = torch::randn({n, k}), b = torch::randn({n});
      const auto xb = x.to(at::kBFloat16), wb = w.to(at::kBFloat16), bb = b.to(at::kBFloat16);
      const double aten = median_ms([&] { return at::linear(x, w, b); }, reps);
      const double blas = median_ms([&] { return longqa::layers::fast_linear(x, w, b); }, reps);
      const double bf16 = median_ms([&] { return at::linear(xb, wb, bb); }, reps);
      const double gflop = 2.0 * double(m) * double(k) * double(n) / 1e9;
      const double diff = (at::linear(x, w, b) - longqa::layers::fast_linear(x, w, b)).abs().max().item<double>();
      std::printf("%8lld %6lld %6lld %14.2f %14.2f %14.2f\n", (long long)m, (long long)k, (long long)n, aten, blas, bf16);
      rows.push_back({{"tokens", m}, {"in", k}, {"out", n}, {"aten_fp32_ms", aten}, {"openblas_ms", blas},
                      {"aten_bf16_ms", bf16}, {"aten_fp32_gflops", gflop / aten * 1e3},
                      {"openblas_gflops", gflop / blas * 1e3}, {"aten_bf16_gflops", gflop / bf16 * 1e3},
                      {"max_abs_diff_openblas_vs_aten", diff}});
    }
  }
  std::ofstream(out_path) << nlohmann::json{{"benchmark", "linear layer, CPU"}, {"threads", threads}, {"reps", reps},
                                            {"statistic", "median after one warm-up"}, {"rows", rows}}
                                 .dump(2)
                          << '\n';
  std::cout << "wrote " << out_path << '\n';
}
