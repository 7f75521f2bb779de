#include "int8_linear.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/native/quantized/PackedParams.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "longqa/common/parallel.h"

namespace longqa::layers {
namespace {

using PackedLinear = c10::intrusive_ptr<LinearPackedParamsBase>;
using WeakTensor = c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>;

PackedLinear prepack(const at::Tensor& qweight, const c10::optional<at::Tensor>& bias) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("quantized::linear_prepack", "")
                             .typed<PackedLinear(at::Tensor, std::optional<at::Tensor>)>();
  std::optional<at::Tensor> b;
  if (bias && bias->defined()) b = bias->to(at::kFloat).contiguous();
  return op.call(qweight, b);
}

// The packed weight (and bias) for qweight, made once. Keyed by the tensors' identity; an entry
// whose weight has been freed is dropped (its address may be reused by another tensor).
PackedLinear packed_for(const at::Tensor& qweight, const c10::optional<at::Tensor>& bias) {
  struct Entry {
    WeakTensor weight, bias;
    const c10::TensorImpl* bias_impl;
    PackedLinear packed;
  };
  static std::mutex mutex;
  static std::unordered_map<const c10::TensorImpl*, Entry> cache;
  const c10::TensorImpl* bias_impl = bias && bias->defined() ? bias->unsafeGetTensorImpl() : nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(qweight.unsafeGetTensorImpl());
  if (it != cache.end() && !it->second.weight.expired() && it->second.bias_impl == bias_impl &&
      (bias_impl == nullptr || !it->second.bias.expired()))
    return it->second.packed;
  for (auto e = cache.begin(); e != cache.end();) e = e->second.weight.expired() ? cache.erase(e) : std::next(e);
  Entry entry{WeakTensor(qweight.getIntrusivePtr()),
              bias_impl ? WeakTensor(bias->getIntrusivePtr()) : WeakTensor(c10::intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>()),
              bias_impl, prepack(qweight, bias)};
  auto packed = entry.packed;
  cache.insert_or_assign(qweight.unsafeGetTensorImpl(), std::move(entry));
  return packed;
}

// fbgemm's AVX2 kernels sum pairs of uint8*int8 products in int16, which can saturate, so torch
// quantizes activations to 7 bits there; with VNNI the sums are int32 and all 8 bits are safe.
bool reduce_range() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool reduce = !__builtin_cpu_supports("avx512vnni");
  return reduce;
#else
  return true;
#endif
}

// rows = x_rows W^T + b, written in place where the packed type can (fbgemm), else copied.
void apply_to(const PackedLinear& packed, const at::Tensor& x_rows, at::Tensor& rows) {
  static std::atomic<bool> in_place{true};
  if (in_place.load(std::memory_order_relaxed)) {
    try {
      packed->apply_dynamic_out(x_rows, rows, reduce_range());
      return;
    } catch (const c10::Error&) {
      in_place = false;  // not implemented for this engine's packed type
    }
  }
  rows.copy_(packed->apply_dynamic(x_rows, reduce_range()));
}

}  // namespace

at::Tensor quantize_linear_weight(const at::Tensor& weight) {
  if (weight.dim() != 2 || !weight.is_floating_point())
    throw std::invalid_argument("quantize_linear_weight: expected a 2-D float weight");
  const auto w = weight.detach().to(at::kCPU, at::kFloat).contiguous();
  const auto scales = (w.abs().amax({1}) / 127.0).clamp_min(1e-12).to(at::kDouble);
  const auto zero_points = at::zeros({w.size(0)}, at::kLong);
  return at::quantize_per_channel(w, scales, zero_points, 0, at::kQInt8);
}

bool is_quantizable_linear_weight(const std::string& name, const at::Tensor& t) {
  const std::string suffix = ".weight";
  const bool weight = name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  return weight && t.dim() == 2 && t.size(0) >= 64 && t.is_floating_point() && name.find("embeddings") == std::string::npos;
}

at::Tensor int8_linear(const at::Tensor& x, const at::Tensor& qweight, const c10::optional<at::Tensor>& bias) {
  const int64_t K = qweight.size(1), N = qweight.size(0);
  if (x.size(-1) != K)
    throw std::invalid_argument("int8_linear: input width " + std::to_string(x.size(-1)) + ", weight expects " +
                                std::to_string(K));
  const int64_t M = x.numel() / K;
  const auto a = x.reshape({M, K}).to(at::kFloat).contiguous();
  const auto packed = packed_for(qweight, bias);
  // Activations are quantized per block of rows (tokens), each block with its own range, so
  // that a token's precision does not depend on outliers elsewhere in the batch; the blocks run
  // on the OpenMP threads (the quantized op runs single-threaded inside a parallel region).
  // 32 rows: default-en's held-out paragraph F1 65.11 in float32 gives 65.18 in int8 with
  // blocks of 32, 64.57 with 64, 64.06 with 128, 63.87 with 256; 32 still reads 16k tokens
  // 1.6x as fast as float32 (bench/results/dtype_accuracy.json, dtype_speed.json).
  const int64_t block = 32;
  const int64_t blocks = (M + block - 1) / block;
  auto out = at::empty({M, N}, a.options());
  const int threads = static_cast<int>(std::min<int64_t>(at::get_num_threads(), blocks));
  const at::ThreadLocalState caller_state;  // InferenceMode and grad mode are per thread
  parallel_ranges(blocks, threads, [&](int64_t first, int64_t last) {
    at::ThreadLocalStateGuard same_state(caller_state);
    for (int64_t b = first; b < last; ++b) {
      const int64_t r0 = b * block, r1 = std::min(M, r0 + block);
      auto rows = out.narrow(0, r0, r1 - r0);
      apply_to(packed, a.narrow(0, r0, r1 - r0), rows);
    }
  });
  auto sizes = x.sizes().vec();
  sizes.back() = N;
  return out.view(sizes);
}

}  // namespace longqa::layers
