// The fused CPU USWAttn forward: checks and strides here, the kernel itself in
// usw_attention_fused_cpu_kernel.h (built for AVX-512 and AVX2; picked at run time).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>  // at::get_num_threads

#include <cmath>
#include <limits>

#include "longqa/attention.h"
#include "longqa/common/parallel.h"
#include "usw_attention_fused_cpu.h"
#include "usw_common.h"

namespace longqa::attention {

namespace fused_cpu {

Kernel kernel_for(int64_t dh) {
  // The AVX-512 build only where the CPU has the subsets its flags allow the compiler to use.
  static const bool has_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  static const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (has_avx512)
    if (auto kernel = avx512::kernel_for(dh)) return kernel;
  if (has_avx2) return avx2::kernel_for(dh);
  return nullptr;
}

}  // namespace fused_cpu

bool usw_attention_fused_cpu_supports(const UswInputs& in) {
  auto plain = [](const at::Tensor& t) { return t.defined() && t.is_cpu() && t.scalar_type() == at::kFloat && t.stride(-1) == 1; };
  return plain(in.q) && plain(in.k) && plain(in.v) && plain(in.packed_k) && plain(in.packed_v) &&
         plain(in.bias.alpha) && plain(in.bias.beta) && plain(in.bias.gamma) && in.q.dim() == 4 &&
         fused_cpu::kernel_for(in.q.size(3)) != nullptr;
}

at::Tensor usw_attention_fused_cpu(const UswInputs& in) {
  detail::check_usw_inputs(in);
  TORCH_CHECK(usw_attention_fused_cpu_supports(in),
              "usw_attention_fused_cpu: needs float32 CPU tensors with a contiguous last dimension and a head "
              "size that is a multiple of the CPU's vector width (AVX2 or AVX-512), got ",
              in.q.scalar_type(), " on ", in.q.device(), ", dh = ", in.q.size(3));
  const auto B = in.q.size(0), H = in.q.size(1), n = in.q.size(2), dh = in.q.size(3);
  const auto b = in.block_size, nb = (n + b - 1) / b;
  const auto valid = in.valid.contiguous();
  const auto alpha = in.bias.alpha.contiguous(), beta = in.bias.beta.contiguous(), gamma = in.bias.gamma.contiguous();
  // Written as (B,n,H,dh) and returned as its (B,H,n,dh) view: the caller's merge of the
  // heads is then a free reshape.
  auto out = at::empty({B, n, H, dh}, in.q.options()).transpose(1, 2);

  fused_cpu::Problem p{};
  p.q = in.q.data_ptr<float>(), p.k = in.k.data_ptr<float>(), p.v = in.v.data_ptr<float>();
  p.packed_k = in.packed_k.data_ptr<float>(), p.packed_v = in.packed_v.data_ptr<float>();
  auto strides = [](const at::Tensor& t, int64_t* to) {
    for (int i = 0; i < 3; ++i) to[i] = t.stride(i);
  };
  strides(in.q, p.q_stride), strides(in.k, p.k_stride), strides(in.v, p.v_stride);
  strides(in.packed_k, p.pk_stride), strides(in.packed_v, p.pv_stride), strides(out, p.out_stride);
  p.valid = valid.data_ptr<bool>(), p.valid_stride = valid.stride(0);
  p.alpha = alpha.data_ptr<float>(), p.beta = beta.data_ptr<float>(), p.gamma = gamma.data_ptr<float>();
  p.out = out.data_ptr<float>();
  p.B = B, p.H = H, p.n = n, p.dh = dh, p.s = in.packed_k.size(2), p.block = b;
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dh)));
  p.masked = detail::masked_logit(at::kFloat).to<float>();
  p.max_distance = in.bias.max_distance > 0 ? static_cast<float>(in.bias.max_distance)
                                            : std::numeric_limits<float>::infinity();

  const auto kernel = fused_cpu::kernel_for(dh);
  // Contiguous ranges of tasks per thread: neighbouring query blocks share key blocks in cache.
  parallel_ranges(B * H * nb, at::get_num_threads(), [&](int64_t first, int64_t last) { kernel(p, first, last); });
  return out;
}

}  // namespace longqa::attention
