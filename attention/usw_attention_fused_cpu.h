// The fused CPU USWAttn forward (usw_attention_fused_cpu.cpp): raw pointers and strides only, so
// that the kernel files can be compiled once per instruction set (AVX2, AVX-512) with ATen's
// at::vec and no torch headers or precompiled header.
#pragma once
#include <cstdint>

namespace longqa::attention::fused_cpu {

// One USWAttn problem, float32. Strides are in elements; the last dimension of every tensor
// is contiguous. Tokens (B,H,n,dh), packed (B,H,s,dh), valid (B,n), alpha/beta/gamma (H).
struct Problem {
  const float *q, *k, *v, *packed_k, *packed_v;
  int64_t q_stride[3], k_stride[3], v_stride[3];   // batch, head, token
  int64_t pk_stride[3], pv_stride[3];              // batch, head, packed row
  const bool* valid;
  int64_t valid_stride;                            // batch
  const float *alpha, *beta, *gamma;
  float* out;                                      // (B,H,n,dh), rows contiguous
  int64_t out_stride[3];                           // batch, head, token
  int64_t B, H, n, dh, s, block;
  float scale;                                     // 1/sqrt(dh)
  float masked;                                    // the logit of a masked key
  float max_distance;                              // BiALiBi's distance cap (infinity: none)
};

// Query blocks [first, last) of the B*H*nb tasks (task = (batch*H + head)*nb + query block),
// each computed alone: call from several threads on disjoint ranges.
using Kernel = void (*)(const Problem&, int64_t first, int64_t last);

// The kernel for this CPU and head size, or nullptr (no AVX2, or dh not a multiple of the
// vector width): the caller then uses the blocked libtorch version.
Kernel kernel_for(int64_t dh);

// The per-instruction-set builds (usw_attention_fused_cpu_kernel.h compiled twice).
namespace avx512 { Kernel kernel_for(int64_t dh); }
namespace avx2 { Kernel kernel_for(int64_t dh); }

}  // namespace longqa::attention::fused_cpu
