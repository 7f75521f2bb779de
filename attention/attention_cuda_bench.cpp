// GPU timing of USWAttn: the fused kernel vs the blocked libtorch version vs dense attention
// (at::scaled_dot_product_attention over all n keys, flash backend), forward and forward +
// backward, fp16 and bf16, B = 1 and 8, H = 12, dh = 64, b = 64, s = 64, n = 1k..64k.
// Prints one table and writes JSON (bench/results/attention_cuda_<gpu>.json by default).
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../attention/op_registration.h"
#include "longqa/attention.h"

namespace la = longqa::attention;

namespace {

constexpr int64_t kH = 12, kDh = 64, kBlock = 64, kPacked = 64;

const char* kUsage =
    "Usage: attention_cuda_bench [--out PATH] [--max-n N] [--quick] [--no-dense] [--help]\n"
    "Times USWAttn on the GPU (H=12 dh=64 b=64 s=64; fp16 and bf16; B=1 and 8; n=1k..64k):\n"
    "the fused CUDA kernel (longqa::usw_attention), the blocked libtorch version and dense\n"
    "SDPA over all n keys, forward and forward+backward. Median of adaptive repetitions\n"
    "(3..20, ~0.3 s each) after a warm-up. Out of memory is recorded, not fatal.\n"
    "  --out PATH  JSON output (default <source>/bench/results/attention_cuda_<gpu>.json)\n"
    "  --max-n N   largest n (default 65536)\n"
    "  --quick     smoke run: n = 1k and 4k, B = 1, bf16\n"
    "  --no-dense  skip dense SDPA\n";

std::string slug(std::string s) {
  for (auto& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_';
  s.erase(std::unique(s.begin(), s.end(), [](char a, char b) { return a == '_' && b == '_'; }),
          s.end());
  while (!s.empty() && s.back() == '_') s.pop_back();
  return s;
}

// Peak DRAM bandwidth from the product name (bytes/s); 0 when unknown.
double peak_bandwidth(const std::string& name) {
  if (name.find("H200") != std::string::npos) return 4.8e12;
  if (name.find("H100") != std::string::npos)
    return name.find("PCIe") != std::string::npos ? 2.0e12 : 3.35e12;
  if (name.find("A100") != std::string::npos) return 2.0e12;
  return 0;
}

// What a device-to-device copy achieves (bytes read + written per second).
double measured_copy_bandwidth() {
  const int64_t bytes = int64_t(1) << 30;
  auto a = torch::empty({bytes}, torch::dtype(torch::kUInt8).device(torch::kCUDA));
  auto b = torch::empty_like(a);
  b.copy_(a);
  torch::cuda::synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < 10; ++r) b.copy_(a);
  torch::cuda::synchronize();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return 2.0 * bytes * 10 / s;
}

la::UswInputs make_inputs(int64_t B, int64_t n, torch::ScalarType dtype, bool grad) {
  torch::manual_seed(0);
  const auto opt = torch::TensorOptions().dtype(dtype).device(torch::kCUDA);
  la::UswInputs in;
  in.q = torch::randn({B, kH, n, kDh}, opt);
  in.k = torch::randn({B, kH, n, kDh}, opt);
  in.v = torch::randn({B, kH, n, kDh}, opt);
  in.packed_k = torch::randn({B, kH, kPacked, kDh}, opt);
  in.packed_v = torch::randn({B, kH, kPacked, kDh}, opt);
  in.valid = torch::ones({B, n}, opt.dtype(torch::kBool));
  in.bias = {torch::full({kH}, 0.5, opt), torch::full({kH}, 0.05, opt),
             torch::full({kH}, 0.03, opt)};
  in.block_size = kBlock;
  if (grad)
    for (auto* t : {&in.q, &in.k, &in.v, &in.packed_k, &in.packed_v, &in.bias.alpha,
                    &in.bias.beta, &in.bias.gamma})
      t->requires_grad_(true);
  return in;
}

// (query, key) pairs USWAttn scores for a length-n sequence: every query sees the s packed
// keys and the distinct key blocks {0, qb-1, qb, qb+1} that exist.
double usw_pairs(int64_t n) {
  const int64_t nb = (n + kBlock - 1) / kBlock;
  double pairs = 0;
  for (int64_t qb = 0; qb < nb; ++qb) {
    const int64_t rows = std::min(kBlock, n - qb * kBlock);
    std::vector<int64_t> blocks = {0, qb - 1, qb, qb + 1};
    std::sort(blocks.begin(), blocks.end());
    blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
    int64_t keys = kPacked;
    for (int64_t kb : blocks)
      if (kb >= 0 && kb < nb) keys += std::min(kBlock, n - kb * kBlock);
    pairs += double(rows) * double(keys);
  }
  return pairs;
}

struct Timing {
  double ms = 0;
  std::string status = "ok";
};

Timing time_it(const std::function<void()>& fn) {
  Timing t;
  try {
    fn();  // warm-up
    torch::cuda::synchronize();
    std::vector<double> ms;
    double total = 0;
    while (ms.size() < 3 || (ms.size() < 20 && total < 300)) {
      const auto t0 = std::chrono::steady_clock::now();
      fn();
      torch::cuda::synchronize();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      total += ms.back();
    }
    std::sort(ms.begin(), ms.end());
    t.ms = ms[ms.size() / 2];
  } catch (const c10::OutOfMemoryError&) {
    t.status = "oom";
  } catch (const std::exception& e) {
    t.status = std::string("error: ") + e.what();
    t.status = t.status.substr(0, t.status.find('\n'));
  }
  c10::cuda::CUDACachingAllocator::emptyCache();
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path;
  int64_t max_n = 65536;
  bool quick = false, dense = true;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--out" && a + 1 < argc) out_path = argv[++a];
    else if (arg == "--max-n" && a + 1 < argc) max_n = std::stoll(argv[++a]);
    else if (arg == "--quick") quick = true;
    else if (arg == "--no-dense") dense = false;
    else {
      std::cout << kUsage;
      return arg == "--help" ? 0 : 2;
    }
  }
  if (!torch::cuda::is_available()) {
    std::cerr << "attention_cuda_bench: no CUDA device\n";
    return 1;
  }
  const auto* prop = at::cuda::getCurrentDeviceProperties();
  const std::string gpu = prop->name;
  if (out_path.empty())
    out_path = std::string(LONGQA_SOURCE_DIR) + "/bench/results/attention_cuda_" + slug(gpu) + ".json";
  const double peak_bw = peak_bandwidth(gpu), copy_bw = measured_copy_bandwidth();
  const double floor_bw = peak_bw > 0 ? peak_bw : copy_bw;

  std::vector<int64_t> ns;
  for (int64_t n = 1024; n <= max_n; n *= 2) ns.push_back(n);
  std::vector<int64_t> batches = {1, 8};
  std::vector<torch::ScalarType> dtypes = {torch::kBFloat16, torch::kHalf};  // bf16 first: the headline
  if (quick) ns = {1024, 4096}, batches = {1}, dtypes = {torch::kBFloat16};

  // The JSON is rewritten after every record, so that a run stopped by a time limit keeps what it
  // measured (scripts/gpu_check.sh runs this under `timeout`).
  std::filesystem::create_directories(std::filesystem::path(out_path).parent_path());
  auto write = [&](const nlohmann::json& results) {
    nlohmann::json doc = {
        {"benchmark", "attention_cuda"},
        {"machine",
         {{"gpu", gpu},
          {"sm_count", prop->multiProcessorCount},
          {"memory_bytes", double(prop->totalGlobalMem)},
          {"peak_bandwidth_bytes_per_s", peak_bw},
          {"copy_bandwidth_bytes_per_s", copy_bw},
          {"torch", TORCH_VERSION}}},
        {"config",
         {{"H", kH}, {"dh", kDh}, {"block_size", kBlock}, {"packed", kPacked},
          {"flops_note", "4*dh per (query,key) pair seen; fwd+bwd = 3.5 x fwd"},
          {"floor_note", "bytes / peak bandwidth (measured copy bandwidth when the GPU is unknown)"}}},
        {"results", results}};
    std::ofstream(out_path) << doc.dump(2) << "\n";
  };
  nlohmann::json results = nlohmann::json::array();
  std::printf("%-6s %-2s %-6s %-8s %-8s %10s %8s %10s %7s  %s\n", "dtype", "B", "n", "impl", "mode",
              "ms", "TFLOP/s", "floor ms", "%floor", "status");
  for (auto dtype : dtypes)
    for (int64_t B : batches)
      for (int64_t n : ns) {
        const double e = double(c10::elementSize(dtype));
        const double row = double(B * kH) * kDh * e;
        // Bytes a perfect kernel moves: fwd reads q,k,v (+ packed), writes out and lse; bwd
        // reads q,k,v,out,dout,lse, writes dq,dk,dv (+ packed).
        const double fwd_bytes = row * (4.0 * n + 2 * kPacked) + double(B * kH * n) * 4;
        const double bwd_bytes = row * (8.0 * n + 4 * kPacked) + double(B * kH * n) * 8;
        const double usw_fwd_flops = 4.0 * B * kH * kDh * usw_pairs(n);
        const double dense_fwd_flops = 4.0 * B * kH * kDh * double(n) * double(n);
        for (const std::string impl : {"fused", "blocked", "sdpa_dense"}) {
          if (impl == "sdpa_dense" && !dense) continue;
          for (const std::string mode : {"fwd", "fwd+bwd"}) {
            const bool train = mode == "fwd+bwd";
            Timing t;
            {
              auto in = make_inputs(B, n, dtype, train);
              const auto grad = torch::randn({B, kH, n, kDh}, in.q.options().requires_grad(false));
              std::function<void()> fn;
              if (impl == "sdpa_dense") {
                fn = [&] {
                  torch::AutoGradMode mode_guard(train);
                  auto o = at::scaled_dot_product_attention(in.q, in.k, in.v);
                  if (train) o.backward(grad);
                };
              } else {
                fn = [&, impl] {
                  torch::AutoGradMode mode_guard(train);
                  auto o = impl == "fused" ? la::usw_attention_op(in) : la::usw_attention_blocked(in);
                  if (train) o.backward(grad);
                };
              }
              t = time_it(fn);
            }
            const double flops = (impl == "sdpa_dense" ? dense_fwd_flops : usw_fwd_flops) *
                                 (train ? 3.5 : 1.0);  // bwd = 2.5 x fwd (FlashAttention's count)
            const double bytes = fwd_bytes + (train ? bwd_bytes : 0);
            const double floor_ms = bytes / floor_bw * 1e3;
            nlohmann::json r = {{"impl", impl},   {"mode", mode},        {"dtype", c10::toString(dtype)},
                                {"B", B},         {"H", kH},             {"n", n},
                                {"dh", kDh},      {"block_size", kBlock}, {"packed", kPacked},
                                {"status", t.status}, {"flops", flops},   {"bytes", bytes},
                                {"floor_ms", floor_ms}};
            if (t.status == "ok") {
              r["ms"] = t.ms;
              r["tflops"] = flops / (t.ms * 1e-3) / 1e12;
              r["floor_fraction"] = floor_ms / t.ms;
            }
            results.push_back(r);
            write(results);
            std::printf("%-6s %-2lld %-6lld %-8s %-8s %10.3f %8.2f %10.3f %6.1f%%  %s\n",
                        c10::toString(dtype), (long long)B, (long long)n, impl.c_str(), mode.c_str(),
                        t.ms, t.status == "ok" ? flops / (t.ms * 1e-3) / 1e12 : 0.0, floor_ms,
                        t.status == "ok" ? 100 * floor_ms / t.ms : 0.0, t.status.c_str());
            std::fflush(stdout);
          }
        }
      }

  write(results);
  std::cout << "wrote " << out_path << "\n";
  return 0;
}
