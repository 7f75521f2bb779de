// The longqa:: operators. One schema per op; the dispatcher picks the kernel by device:
//   CPU      -> the blocked libtorch USWAttn / the ATen pack attention (autograd through ATen)
//   CUDA     -> the fused kernels (usw_attention_forward.cu, usw_attention_backward.cu) through usw_attention_binding.h
//   Autograd -> CUDA tensors go through a torch::autograd::Function whose backward is the
//               fused backward; CPU tensors call the ATen versions, which record their own graph.
// usw_attention_fwd / _bwd and pack_attention_fwd / _bwd expose the CUDA kernels themselves
// (forward returns the row logsumexp that the backward needs).
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#include "longqa/attention.h"
#include "op_registration.h"

#if defined(LONGQA_WITH_CUDA)
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "usw_attention_binding.h"
#endif

namespace longqa::attention {
namespace {

using at::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

UswInputs make_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& packed_k,
                      const Tensor& packed_v, const Tensor& valid, const Tensor& alpha,
                      const Tensor& beta, const Tensor& gamma, int64_t block_size, int64_t max_distance) {
  UswInputs in;
  in.q = q, in.k = k, in.v = v, in.packed_k = packed_k, in.packed_v = packed_v, in.valid = valid;
  in.bias = {alpha, beta, gamma, max_distance};
  in.block_size = block_size;
  return in;
}

// Whether autograd would record a graph through these inputs.
bool needs_grad(const UswInputs& in) {
  if (!at::GradMode::is_enabled()) return false;
  for (const auto* t : {&in.q, &in.k, &in.v, &in.packed_k, &in.packed_v, &in.bias.alpha, &in.bias.beta, &in.bias.gamma})
    if (t->requires_grad()) return true;
  return false;
}

// ---- Typed handles of the ops -----------------------------------------------------------

using UswSig = Tensor(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                      const Tensor&, const Tensor&, const Tensor&, const Tensor&, int64_t, int64_t);
using UswFwdSig = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&,
                                             const Tensor&, const Tensor&, const Tensor&,
                                             const Tensor&, const Tensor&, const Tensor&, int64_t, int64_t);
using UswBwdSig = std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>(
    const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
    const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
    int64_t, int64_t);
using PackSig = Tensor(const Tensor&, const Tensor&, const Tensor&, const Tensor&);
using PackFwdSig = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&,
                                              const Tensor&);
using PackBwdSig = std::tuple<Tensor, Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&,
                                                      const Tensor&, const Tensor&, const Tensor&,
                                                      const Tensor&);

// Whether the fused CUDA kernels cover these inputs (dtype and head dim); otherwise the CUDA
// path of usw_attention / pack_attention falls back to the ATen versions, with a warning.
bool fused_covers(const Tensor& q, const char* op_name) {
#if defined(LONGQA_WITH_CUDA)
  const auto t = q.scalar_type();
  const bool ok = (t == at::kFloat || t == at::kHalf || t == at::kBFloat16) && q.dim() == 4 &&
                  kernels::supported_head_dim(int(q.size(3)));
  if (!ok)
    TORCH_WARN_ONCE(op_name, ": no fused CUDA kernel for dtype ", t, " and head dim ",
                    q.dim() == 4 ? q.size(3) : -1,
                    " (float32/float16/bfloat16 with dh 32, 64 or 128); using the ATen version");
  return ok;
#else
  (void)q, (void)op_name;
  return false;
#endif
}

template <typename Sig>
c10::TypedOperatorHandle<Sig> op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Sig>();
}

Tensor usw_cpu(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& packed_k,
               const Tensor& packed_v, const Tensor& valid, const Tensor& alpha,
               const Tensor& beta, const Tensor& gamma, int64_t block_size, int64_t max_distance);

// ---- Autograd ---------------------------------------------------------------------------

class UswFunction : public torch::autograd::Function<UswFunction> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                        const Tensor& packed_k, const Tensor& packed_v, const Tensor& valid,
                        const Tensor& alpha, const Tensor& beta, const Tensor& gamma,
                        int64_t block_size, int64_t max_distance) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    static const auto fwd = op<UswFwdSig>("longqa::usw_attention_fwd");
    auto [out, lse] =
        fwd.call(q, k, v, packed_k, packed_v, valid, alpha, beta, gamma, block_size, max_distance);
    ctx->save_for_backward({q, k, v, packed_k, packed_v, valid, alpha, beta, gamma, out, lse});
    ctx->saved_data["block_size"] = block_size;
    ctx->saved_data["max_distance"] = max_distance;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    static const auto bwd = op<UswBwdSig>("longqa::usw_attention_bwd");
    const auto s = ctx->get_saved_variables();
    if (!grads[0].defined()) return variable_list(11);  // output unused by the loss
    const auto g = bwd.call(grads[0], s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9],
                            s[10], ctx->saved_data["block_size"].toInt(),
                            ctx->saved_data["max_distance"].toInt());
    return {std::get<0>(g), std::get<1>(g), std::get<2>(g), std::get<3>(g), std::get<4>(g),
            Tensor(),       std::get<5>(g), std::get<6>(g), std::get<7>(g), Tensor(), Tensor()};
  }
};

class PackFunction : public torch::autograd::Function<PackFunction> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& packed_q, const Tensor& k,
                        const Tensor& v, const Tensor& valid) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    static const auto fwd = op<PackFwdSig>("longqa::pack_attention_fwd");
    auto [out, lse] = fwd.call(packed_q, k, v, valid);
    ctx->save_for_backward({packed_q, k, v, valid, out, lse});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    static const auto bwd = op<PackBwdSig>("longqa::pack_attention_bwd");
    const auto s = ctx->get_saved_variables();
    if (!grads[0].defined()) return variable_list(4);
    const auto g = bwd.call(grads[0], s[0], s[1], s[2], s[3], s[4], s[5]);
    return {std::get<0>(g), std::get<1>(g), std::get<2>(g), Tensor()};
  }
};

Tensor usw_autograd(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& packed_k,
                    const Tensor& packed_v, const Tensor& valid, const Tensor& alpha,
                    const Tensor& beta, const Tensor& gamma, int64_t block_size, int64_t max_distance) {
  if (q.is_cuda() && fused_covers(q, "usw_attention"))
    return UswFunction::apply(q, k, v, packed_k, packed_v, valid, alpha, beta, gamma, block_size, max_distance);
  // CPU: the CPU kernel's own choice (fused without gradients, else the blocked version, whose
  // ATen ops record the graph).
  if (!q.is_cuda()) return usw_cpu(q, k, v, packed_k, packed_v, valid, alpha, beta, gamma, block_size, max_distance);
  return usw_attention_blocked(
      make_inputs(q, k, v, packed_k, packed_v, valid, alpha, beta, gamma, block_size, max_distance));
}

Tensor pack_autograd(const Tensor& packed_q, const Tensor& k, const Tensor& v,
                     const Tensor& valid) {
  if (packed_q.is_cuda() && fused_covers(packed_q, "pack_attention"))
    return PackFunction::apply(packed_q, k, v, valid);
  return detail::pack_attention_aten(packed_q, k, v, valid);
}

// ---- CPU --------------------------------------------------------------------------------

// Reached without autograd (inference mode, or below the Autograd kernel): the fused forward
// where it applies.
Tensor usw_cpu(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& packed_k,
               const Tensor& packed_v, const Tensor& valid, const Tensor& alpha,
               const Tensor& beta, const Tensor& gamma, int64_t block_size, int64_t max_distance) {
  auto in = make_inputs(q, k, v, packed_k, packed_v, valid, alpha, beta, gamma, block_size, max_distance);
  if (!needs_grad(in)) {
    if (usw_attention_fused_cpu_supports(in)) return usw_attention_fused_cpu(in);
    // bfloat16 / float16 models: the fused kernel in float32 (the softmax wants it anyway);
    // the conversions are a few passes over n*d values, the blocked version's are over n*W.
    if (q.scalar_type() == at::kBFloat16 || q.scalar_type() == at::kHalf) {
      auto wide = in;
      for (auto* t : {&wide.q, &wide.k, &wide.v, &wide.packed_k, &wide.packed_v, &wide.bias.alpha, &wide.bias.beta,
                      &wide.bias.gamma})
        *t = t->to(at::kFloat);
      if (usw_attention_fused_cpu_supports(wide)) return usw_attention_fused_cpu(wide).to(q.scalar_type());
    }
  }
  return usw_attention_blocked(in);
}

Tensor pack_cpu(const Tensor& packed_q, const Tensor& k, const Tensor& v, const Tensor& valid) {
  return detail::pack_attention_aten(packed_q, k, v, valid);
}

// ---- CUDA -------------------------------------------------------------------------------
#if defined(LONGQA_WITH_CUDA)

struct CudaBackend {
  static void* stream() { return at::cuda::getCurrentCUDAStream().stream(); }
  static void forward(const kernels::AttentionParams& p) {
    kernels::cuda::attention_forward(p, stream());
  }
  static void backward(const kernels::BackwardParams& p) {
    kernels::cuda::attention_backward(p, stream());
  }
  static int num_sms() { return at::cuda::getCurrentDeviceProperties()->multiProcessorCount; }
};

std::tuple<Tensor, Tensor> usw_fwd_cuda(const Tensor& q, const Tensor& k, const Tensor& v,
                                        const Tensor& packed_k, const Tensor& packed_v,
                                        const Tensor& valid, const Tensor& alpha,
                                        const Tensor& beta, const Tensor& gamma,
                                        int64_t block_size, int64_t max_distance) {
  const c10::cuda::OptionalCUDAGuard guard(q.device());
  return binding::usw_forward<CudaBackend>(
      make_inputs(q, k, v, packed_k, packed_v, valid, alpha, beta, gamma, block_size, max_distance));
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> usw_bwd_cuda(
    const Tensor& grad_out, const Tensor& q, const Tensor& k, const Tensor& v,
    const Tensor& packed_k, const Tensor& packed_v, const Tensor& valid, const Tensor& alpha,
    const Tensor& beta, const Tensor& gamma, const Tensor& out, const Tensor& lse,
    int64_t block_size, int64_t max_distance) {
  const c10::cuda::OptionalCUDAGuard guard(q.device());
  const auto g = binding::usw_backward<CudaBackend>(
      grad_out, make_inputs(q, k, v, packed_k, packed_v, valid, alpha, beta, gamma, block_size, max_distance),
      out, lse);
  return {g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]};
}

Tensor usw_cuda(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& packed_k,
                const Tensor& packed_v, const Tensor& valid, const Tensor& alpha,
                const Tensor& beta, const Tensor& gamma, int64_t block_size, int64_t max_distance) {
  if (!fused_covers(q, "usw_attention"))
    return usw_attention_blocked(
        make_inputs(q, k, v, packed_k, packed_v, valid, alpha, beta, gamma, block_size, max_distance));
  return std::get<0>(
      usw_fwd_cuda(q, k, v, packed_k, packed_v, valid, alpha, beta, gamma, block_size, max_distance));
}

std::tuple<Tensor, Tensor> pack_fwd_cuda(const Tensor& packed_q, const Tensor& k,
                                         const Tensor& v, const Tensor& valid) {
  const c10::cuda::OptionalCUDAGuard guard(packed_q.device());
  return binding::pack_forward<CudaBackend>(packed_q, k, v, valid);
}

std::tuple<Tensor, Tensor, Tensor> pack_bwd_cuda(const Tensor& grad_out, const Tensor& packed_q,
                                                 const Tensor& k, const Tensor& v,
                                                 const Tensor& valid, const Tensor& out,
                                                 const Tensor& lse) {
  const c10::cuda::OptionalCUDAGuard guard(packed_q.device());
  const auto g = binding::pack_backward<CudaBackend>(grad_out, packed_q, k, v, valid, out, lse);
  return {g[0], g[1], g[2]};
}

Tensor pack_cuda(const Tensor& packed_q, const Tensor& k, const Tensor& v, const Tensor& valid) {
  if (!fused_covers(packed_q, "pack_attention")) return detail::pack_attention_aten(packed_q, k, v, valid);
  return std::get<0>(pack_fwd_cuda(packed_q, k, v, valid));
}

#endif

}  // namespace

at::Tensor usw_attention_op(const UswInputs& in) {
  static const auto usw = op<UswSig>("longqa::usw_attention");
  return usw.call(in.q, in.k, in.v, in.packed_k, in.packed_v, in.valid, in.bias.alpha,
                  in.bias.beta, in.bias.gamma, in.block_size, in.bias.max_distance);
}

at::Tensor pack_attention_op(const at::Tensor& packed_q, const at::Tensor& k, const at::Tensor& v,
                             const at::Tensor& valid) {
  static const auto pack = op<PackSig>("longqa::pack_attention");
  return pack.call(packed_q, k, v, valid);
}

bool cuda_kernels_built() {
#if defined(LONGQA_WITH_CUDA)
  return true;
#else
  return false;
#endif
}

}  // namespace longqa::attention

TORCH_LIBRARY(longqa, m) {
  m.def(
      "usw_attention(Tensor q, Tensor k, Tensor v, Tensor packed_k, Tensor packed_v, "
      "Tensor valid, Tensor alpha, Tensor beta, Tensor gamma, int block_size, int max_distance=0) -> Tensor");
  m.def(
      "usw_attention_fwd(Tensor q, Tensor k, Tensor v, Tensor packed_k, Tensor packed_v, "
      "Tensor valid, Tensor alpha, Tensor beta, Tensor gamma, int block_size, int max_distance=0) "
      "-> (Tensor out, Tensor lse)");
  m.def(
      "usw_attention_bwd(Tensor grad_out, Tensor q, Tensor k, Tensor v, Tensor packed_k, "
      "Tensor packed_v, Tensor valid, Tensor alpha, Tensor beta, Tensor gamma, Tensor out, "
      "Tensor lse, int block_size, int max_distance=0) -> (Tensor dq, Tensor dk, Tensor dv, Tensor dpacked_k, "
      "Tensor dpacked_v, Tensor dalpha, Tensor dbeta, Tensor dgamma)");
  m.def("pack_attention(Tensor packed_q, Tensor k, Tensor v, Tensor valid) -> Tensor");
  m.def(
      "pack_attention_fwd(Tensor packed_q, Tensor k, Tensor v, Tensor valid) "
      "-> (Tensor out, Tensor lse)");
  m.def(
      "pack_attention_bwd(Tensor grad_out, Tensor packed_q, Tensor k, Tensor v, Tensor valid, "
      "Tensor out, Tensor lse) -> (Tensor dpacked_q, Tensor dk, Tensor dv)");
}

TORCH_LIBRARY_IMPL(longqa, CPU, m) {
  m.impl("usw_attention", &longqa::attention::usw_cpu);
  m.impl("pack_attention", &longqa::attention::pack_cpu);
}

TORCH_LIBRARY_IMPL(longqa, Autograd, m) {
  m.impl("usw_attention", &longqa::attention::usw_autograd);
  m.impl("pack_attention", &longqa::attention::pack_autograd);
}

#if defined(LONGQA_WITH_CUDA)
TORCH_LIBRARY_IMPL(longqa, CUDA, m) {
  m.impl("usw_attention", &longqa::attention::usw_cuda);
  m.impl("usw_attention_fwd", &longqa::attention::usw_fwd_cuda);
  m.impl("usw_attention_bwd", &longqa::attention::usw_bwd_cuda);
  m.impl("pack_attention", &longqa::attention::pack_cuda);
  m.impl("pack_attention_fwd", &longqa::attention::pack_fwd_cuda);
  m.impl("pack_attention_bwd", &longqa::attention::pack_bwd_cuda);
}
#endif
