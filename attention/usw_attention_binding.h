// The thin layer between ATen tensors and the fused kernels (usw_attention_cuda.h): it checks
// the tensors, makes them kernel-ready (unit stride on dh, 16-byte aligned rows), allocates
// the outputs and fills the parameter structs. Templated on the backend so that the tests can
// run the very same code against the CPU emulation of the kernels:
//   struct Backend {
//     static void forward(const kernels::AttentionParams&);
//     static void backward(const kernels::BackwardParams&);
//     static int num_sms();
//   };
#pragma once
#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

#include "longqa/attention.h"
#include "usw_attention_cuda.h"
#include "usw_common.h"

namespace longqa::attention::binding {

// Work split overrides (0 = choose from the shape). Tests set small values to exercise splits.
struct Tuning {
  int key_chunk = 0;    // pack forward / dq: token keys per split
  int query_chunk = 0;  // dK/dV of globally seen keys: query rows per CTA
};

// Tests set this to fill every output with NaN before the kernels run, so that an element the
// kernels forget to write shows up.
inline std::atomic<bool>& poison_outputs() {
  static std::atomic<bool> flag{false};
  return flag;
}

inline kernels::DType kernel_dtype(const at::Tensor& t, const char* op) {
  switch (t.scalar_type()) {
    case at::kFloat: return kernels::DType::f32;
    case at::kHalf: return kernels::DType::f16;
    case at::kBFloat16: return kernels::DType::bf16;
    default:
      TORCH_CHECK(false, op, ": the fused kernels take float32, float16 or bfloat16, got ",
                  t.scalar_type());
  }
  return kernels::DType::f32;
}

inline void check_head_dim(int64_t dh, const char* op) {
  TORCH_CHECK(kernels::supported_head_dim(int(dh)), op, ": head dim ", dh,
              " is not supported by the fused kernels (compiled for 32, 64 and 128)");
}

// Unit stride on the last dim and every other stride and the base 16-byte aligned (the
// kernels read 4 elements at a time); copies only when that does not hold.
inline at::Tensor kernel_ready(const at::Tensor& t) {
  if (t.numel() == 0) return t.contiguous();
  auto ok = [](const at::Tensor& x) {
    if (x.stride(-1) != 1) return false;
    for (int64_t d = 0; d + 1 < x.dim(); ++d)
      if (x.stride(d) % 4 != 0) return false;
    return reinterpret_cast<uintptr_t>(x.data_ptr()) % 16 == 0;
  };
  if (ok(t)) return t;
  auto c = t.contiguous();
  return ok(c) ? c : t.clone(at::MemoryFormat::Contiguous);
}

inline kernels::Tensor4 view4(const at::Tensor& t) {
  kernels::Tensor4 v;
  v.ptr = t.numel() ? t.data_ptr() : nullptr;
  v.batch_stride = t.stride(0);
  v.head_stride = t.stride(1);
  v.row_stride = t.stride(2);
  return v;
}

inline void check_sizes(int64_t B, int64_t H, int64_t n, int64_t s, const char* op) {
  constexpr int64_t int_max = std::numeric_limits<int32_t>::max() / 2;
  TORCH_CHECK(B <= 65535 && H <= 65535, op, ": batch ", B, " and heads ", H,
              " must each be at most 65535 (CUDA grid)");
  TORCH_CHECK(n < int_max && s < int_max, op, ": sequence lengths n = ", n, ", s = ", s,
              " too long for 32-bit row indices");
}

inline int round_up(int64_t x, int64_t m) { return int((x + m - 1) / m * m); }

// Pack forward / dq: split the n token keys so that the grid has about 2 CTAs per SM.
inline int choose_key_chunk(int64_t B, int64_t H, int64_t n, int64_t s, int num_sms,
                            const Tuning& tuning) {
  if (tuning.key_chunk > 0) return round_up(tuning.key_chunk, kernels::kBlockN);
  const int64_t ctas = B * H * ((s + kernels::kBlockM - 1) / kernels::kBlockM);
  const int64_t splits = std::max<int64_t>(1, (2 * num_sms + ctas - 1) / ctas);
  return std::max(256, round_up((n + splits - 1) / splits, kernels::kBlockN));
}

inline kernels::AttentionParams usw_params(const at::Tensor& q, const at::Tensor& k,
                                           const at::Tensor& v, const at::Tensor& pk,
                                           const at::Tensor& pv, const at::Tensor& valid,
                                           const at::Tensor& alpha, const at::Tensor& beta,
                                           const at::Tensor& gamma, int64_t block_size,
                                           int64_t max_distance) {
  kernels::AttentionParams p;
  p.kind = kernels::Kind::usw;
  p.dtype = kernel_dtype(q, "usw_attention");
  p.B = int(q.size(0)), p.H = int(q.size(1)), p.n = int(q.size(2)), p.dh = int(q.size(3));
  p.s = int(pk.size(2));
  p.block_size = int(block_size);
  p.max_distance = int(std::min<int64_t>(max_distance, std::numeric_limits<int32_t>::max()));
  p.scale = float(1.0 / std::sqrt(double(p.dh)));
  p.q = view4(q), p.k = view4(k), p.v = view4(v), p.packed_k = view4(pk), p.packed_v = view4(pv);
  p.valid = reinterpret_cast<const uint8_t*>(valid.data_ptr<bool>());
  p.valid_stride = valid.stride(0);
  p.alpha = alpha.data_ptr<float>(), p.beta = beta.data_ptr<float>(),
  p.gamma = gamma.data_ptr<float>();
  return p;
}

// Inputs converted for the kernels; kept alive by the caller while the kernels run.
struct UswTensors {
  at::Tensor q, k, v, pk, pv, valid, alpha, beta, gamma;
  int64_t block_size, max_distance;
};

inline UswTensors usw_tensors(const UswInputs& in) {
  detail::check_usw_inputs(in);
  kernel_dtype(in.q, "usw_attention");
  check_head_dim(in.q.size(3), "usw_attention");
  check_sizes(in.q.size(0), in.q.size(1), in.q.size(2), in.packed_k.size(2), "usw_attention");
  TORCH_CHECK(in.block_size < std::numeric_limits<int32_t>::max() / 4,
              "usw_attention: block_size ", in.block_size, " too large");
  auto f32 = [](const at::Tensor& t) { return t.to(at::kFloat).contiguous(); };
  return {kernel_ready(in.q),          kernel_ready(in.k),          kernel_ready(in.v),
          kernel_ready(in.packed_k),   kernel_ready(in.packed_v),   in.valid.contiguous(),
          f32(in.bias.alpha),          f32(in.bias.beta),           f32(in.bias.gamma),
          in.block_size,               in.bias.max_distance};
}

inline kernels::AttentionParams usw_params(const UswTensors& t) {
  return usw_params(t.q, t.k, t.v, t.pk, t.pv, t.valid, t.alpha, t.beta, t.gamma, t.block_size, t.max_distance);
}

// Returns (out, lse): out like q (contiguous), lse (B,H,n) fp32 in log2 units.
template <class Backend>
std::tuple<at::Tensor, at::Tensor> usw_forward(const UswInputs& in) {
  const auto t = usw_tensors(in);
  auto p = usw_params(t);
  auto out = at::empty({p.B, p.H, p.n, p.dh}, t.q.options().memory_format(at::MemoryFormat::Contiguous));
  auto lse = at::empty({p.B, p.H, p.n}, t.q.options().dtype(at::kFloat));
  if (poison_outputs()) {
    out.fill_(std::numeric_limits<double>::quiet_NaN());
    lse.fill_(std::numeric_limits<double>::quiet_NaN());
  }
  p.out = out.data_ptr();
  p.lse = lse.data_ptr<float>();
  Backend::forward(p);
  return {out, lse};
}

// Gradients (dq, dk, dv, dpacked_k, dpacked_v, dalpha, dbeta, dgamma) in the inputs' dtypes.
template <class Backend>
std::vector<at::Tensor> usw_backward(const at::Tensor& grad_out, const UswInputs& in,
                                     const at::Tensor& out, const at::Tensor& lse,
                                     const Tuning& tuning = {}) {
  const auto t = usw_tensors(in);
  TORCH_CHECK(grad_out.sizes() == in.q.sizes() && out.sizes() == in.q.sizes() &&
                  grad_out.scalar_type() == in.q.scalar_type() &&
                  out.scalar_type() == in.q.scalar_type(),
              "usw_attention backward: grad_out and out must match q: ", in.q.sizes(), " ",
              in.q.scalar_type());
  TORCH_CHECK(lse.scalar_type() == at::kFloat && lse.dim() == 3,
              "usw_attention backward: lse must be the forward's (B,H,n) float32 tensor");
  kernels::BackwardParams p;
  static_cast<kernels::AttentionParams&>(p) = usw_params(t);
  const auto dout = kernel_ready(grad_out);
  const auto o = out.contiguous(), l = lse.contiguous();
  const auto f32 = t.q.options().dtype(at::kFloat);
  auto dq = at::zeros({p.B, p.H, p.n, p.dh}, f32), dk = at::zeros_like(dq), dv = at::zeros_like(dq);
  auto dpk = at::zeros({p.B, p.H, p.s, p.dh}, f32), dpv = at::zeros_like(dpk);
  auto dbias = at::zeros({p.H, 3}, f32.dtype(at::kDouble));
  auto delta = at::empty({p.B, p.H, p.n}, f32);
  p.out = const_cast<void*>(o.data_ptr());
  p.lse = const_cast<float*>(l.data_ptr<float>());
  p.dout = view4(dout);
  p.delta = delta.data_ptr<float>();
  p.dq = dq.data_ptr<float>(), p.dk = dk.data_ptr<float>(), p.dv = dv.data_ptr<float>();
  p.dpk = p.s ? dpk.data_ptr<float>() : nullptr, p.dpv = p.s ? dpv.data_ptr<float>() : nullptr;
  p.dbias = dbias.data_ptr<double>();
  // Packed keys and block 0 are seen by all n queries: split those rows into ~32 chunks of
  // at least 512 (fewer atomics per element than CTAs of work lost to imbalance).
  p.query_chunk = tuning.query_chunk > 0
                      ? round_up(tuning.query_chunk, kernels::kBlockM)
                      : std::max(512, round_up((int64_t(p.n) + 31) / 32, kernels::kBlockM));
  Backend::backward(p);
  const auto dt = in.q.scalar_type(), bt = in.bias.alpha.scalar_type();
  return {dq.to(dt),
          dk.to(dt),
          dv.to(dt),
          dpk.to(dt),
          dpv.to(dt),
          dbias.select(1, 0).to(bt),
          dbias.select(1, 1).to(bt),
          dbias.select(1, 2).to(bt)};
}

// ---- Pack attention ---------------------------------------------------------------------

struct PackTensors {
  at::Tensor pq, k, v, valid;
};

inline PackTensors pack_tensors(const at::Tensor& packed_q, const at::Tensor& k,
                                const at::Tensor& v, const at::Tensor& valid) {
  TORCH_CHECK(packed_q.dim() == 4, "pack_attention: packed_q must be (B,H,s,dh), got ",
              packed_q.sizes());
  const auto B = packed_q.size(0), H = packed_q.size(1), dh = packed_q.size(3);
  TORCH_CHECK(k.dim() == 4 && k.size(0) == B && k.size(1) == H && k.size(3) == dh,
              "pack_attention: k must be (B,H,n,dh) = (", B, ",", H, ",n,", dh, "), got ",
              k.sizes());
  TORCH_CHECK(v.sizes() == k.sizes(), "pack_attention: v must have k's shape ", k.sizes(),
              ", got ", v.sizes());
  TORCH_CHECK(k.scalar_type() == packed_q.scalar_type() && v.scalar_type() == packed_q.scalar_type(),
              "pack_attention: dtypes differ: packed_q ", packed_q.scalar_type(), ", k ",
              k.scalar_type(), ", v ", v.scalar_type());
  TORCH_CHECK(k.device() == packed_q.device() && v.device() == packed_q.device() &&
                  valid.device() == packed_q.device(),
              "pack_attention: all tensors must be on ", packed_q.device());
  TORCH_CHECK(valid.scalar_type() == at::kBool && valid.dim() == 2 && valid.size(0) == B &&
                  valid.size(1) == k.size(2),
              "pack_attention: valid must be a (B,n) = (", B, ",", k.size(2), ") bool tensor, got ",
              valid.scalar_type(), " ", valid.sizes());
  kernel_dtype(packed_q, "pack_attention");
  check_head_dim(dh, "pack_attention");
  check_sizes(B, H, k.size(2), packed_q.size(2), "pack_attention");
  return {kernel_ready(packed_q), kernel_ready(k), kernel_ready(v), valid.contiguous()};
}

inline kernels::AttentionParams pack_params(const PackTensors& t) {
  kernels::AttentionParams p;
  p.kind = kernels::Kind::pack;
  p.dtype = kernel_dtype(t.pq, "pack_attention");
  p.B = int(t.pq.size(0)), p.H = int(t.pq.size(1)), p.s = int(t.pq.size(2)),
  p.dh = int(t.pq.size(3)), p.n = int(t.k.size(2));
  p.scale = float(1.0 / std::sqrt(double(p.dh)));
  p.q = view4(t.pq), p.k = view4(t.k), p.v = view4(t.v);
  p.valid = reinterpret_cast<const uint8_t*>(t.valid.data_ptr<bool>());
  p.valid_stride = t.valid.stride(0);
  return p;
}

template <class Backend>
std::tuple<at::Tensor, at::Tensor> pack_forward(const at::Tensor& packed_q, const at::Tensor& k,
                                                const at::Tensor& v, const at::Tensor& valid,
                                                const Tuning& tuning = {}) {
  const auto t = pack_tensors(packed_q, k, v, valid);
  auto p = pack_params(t);
  auto out = at::empty({p.B, p.H, p.s, p.dh}, t.pq.options().memory_format(at::MemoryFormat::Contiguous));
  auto lse = at::empty({p.B, p.H, p.s}, t.pq.options().dtype(at::kFloat));
  if (poison_outputs()) {
    out.fill_(std::numeric_limits<double>::quiet_NaN());
    lse.fill_(std::numeric_limits<double>::quiet_NaN());
  }
  if (p.n == 0 || p.s == 0 || p.B == 0 || p.H == 0) {  // no keys: zero rows (as the ATen version)
    out.zero_();
    lse.fill_(std::numeric_limits<double>::infinity());
    return {out, lse};
  }
  p.key_chunk = choose_key_chunk(p.B, p.H, p.n, p.s, Backend::num_sms(), tuning);
  p.key_splits = (p.n + p.key_chunk - 1) / p.key_chunk;
  auto part = at::empty({p.key_splits, p.B, p.H, p.s, p.dh}, lse.options());
  auto part_lse = at::empty({p.key_splits, p.B, p.H, p.s}, lse.options());
  p.out = out.data_ptr();
  p.lse = lse.data_ptr<float>();
  p.out_partial = part.data_ptr<float>();
  p.lse_partial = part_lse.data_ptr<float>();
  Backend::forward(p);
  return {out, lse};
}

// Gradients (dpacked_q, dk, dv).
template <class Backend>
std::vector<at::Tensor> pack_backward(const at::Tensor& grad_out, const at::Tensor& packed_q,
                                      const at::Tensor& k, const at::Tensor& v,
                                      const at::Tensor& valid, const at::Tensor& out,
                                      const at::Tensor& lse, const Tuning& tuning = {}) {
  const auto t = pack_tensors(packed_q, k, v, valid);
  TORCH_CHECK(grad_out.sizes() == packed_q.sizes() && out.sizes() == packed_q.sizes() &&
                  grad_out.scalar_type() == packed_q.scalar_type(),
              "pack_attention backward: grad_out and out must match packed_q ",
              packed_q.sizes());
  kernels::BackwardParams p;
  static_cast<kernels::AttentionParams&>(p) = pack_params(t);
  const auto f32 = t.pq.options().dtype(at::kFloat);
  auto dq = at::zeros({p.B, p.H, p.s, p.dh}, f32);
  auto dk = at::zeros({p.B, p.H, p.n, p.dh}, f32), dv = at::zeros_like(dk);
  const auto dt = packed_q.scalar_type();
  if (p.n == 0 || p.s == 0 || p.B == 0 || p.H == 0) return {dq.to(dt), dk.to(dt), dv.to(dt)};
  const auto dout = kernel_ready(grad_out);
  const auto o = out.contiguous(), l = lse.contiguous();
  auto delta = at::empty({p.B, p.H, p.s}, f32);
  p.key_chunk = choose_key_chunk(p.B, p.H, p.n, p.s, Backend::num_sms(), tuning);
  p.key_splits = (p.n + p.key_chunk - 1) / p.key_chunk;
  p.query_chunk = tuning.query_chunk > 0 ? round_up(tuning.query_chunk, kernels::kBlockM)
                                         : round_up(p.s, kernels::kBlockM);
  p.out = const_cast<void*>(o.data_ptr());
  p.lse = const_cast<float*>(l.data_ptr<float>());
  p.dout = view4(dout);
  p.delta = delta.data_ptr<float>();
  p.dq = dq.data_ptr<float>(), p.dk = dk.data_ptr<float>(), p.dv = dv.data_ptr<float>();
  Backend::backward(p);
  return {dq.to(dt), dk.to(dt), dv.to(dt)};
}

}  // namespace longqa::attention::binding
