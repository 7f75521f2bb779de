#include "blas_linear.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <cblas.h>

#include <algorithm>

#include "int8_linear.h"
#include "longqa/common/parallel.h"

extern "C" void openblas_set_num_threads(int);

namespace longqa::layers {
namespace {

// Whether the sgemm path applies: float32 CPU tensors, no gradient to record.
bool blas_linear_applies(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias) {
  const bool has_bias = bias && bias->defined();
  auto plain = [](const at::Tensor& t) { return t.is_cpu() && t.scalar_type() == at::kFloat; };
  const bool needs_grad = at::GradMode::is_enabled() &&
                          (x.requires_grad() || weight.requires_grad() || (has_bias && bias->requires_grad()));
  return !needs_grad && plain(x) && plain(weight) && weight.dim() == 2 && x.dim() >= 1 && x.numel() > 0 &&
         x.size(-1) == weight.size(1) && (!has_bias || (plain(*bias) && bias->dim() == 1 && bias->size(0) == weight.size(0)));
}

}  // namespace

at::Tensor fast_linear(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias) {
  if (weight.is_quantized()) return int8_linear(x, weight, bias);
  if (!blas_linear_applies(x, weight, bias)) return at::linear(x, weight, bias);
  const int64_t K = weight.size(1), N = weight.size(0), M = x.numel() / K;
  const auto a = x.reshape({M, K}).contiguous();
  const auto w = weight.stride(1) == 1 && weight.stride(0) == K ? weight : weight.contiguous();
  at::Tensor out;
  float beta = 0.0f;
  if (bias && bias->defined()) {
    out = bias->unsqueeze(0).expand({M, N}).contiguous();  // sgemm adds onto the bias
    beta = 1.0f;
  } else {
    out = at::empty({M, N}, x.options());
  }
  // OpenBLAS's own threads would compete with torch's spinning OpenMP threads: it runs
  // single-threaded inside our OpenMP ranges of rows instead (the same pool as torch's ops).
  static const bool single = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)single;
  const float *a_data = a.data_ptr<float>(), *w_data = w.data_ptr<float>();
  float* out_data = out.data_ptr<float>();
  const int64_t min_rows = 64;  // below this per thread, one call is cheaper than a split
  const int threads = static_cast<int>(std::min<int64_t>(at::get_num_threads(), std::max<int64_t>(1, M / min_rows)));
  parallel_ranges(threads, threads, [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t) {
      const int64_t r0 = M * t / threads, r1 = M * (t + 1) / threads;
      if (r1 > r0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(r1 - r0), static_cast<int>(N),
                    static_cast<int>(K), 1.0f, a_data + r0 * K, static_cast<int>(K), w_data, static_cast<int>(K), beta,
                    out_data + r0 * N, static_cast<int>(N));
    }
  });
  auto sizes = x.sizes().vec();
  sizes.back() = N;
  return out.view(sizes);
}

}  // namespace longqa::layers
