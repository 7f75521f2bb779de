// Private helpers shared by the USWAttn implementations: input checks, the BiALiBi
// formula and the masking value.
#pragma once
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <limits>

#include "longqa/attention.h"

namespace longqa::attention::detail {

inline void check_usw_inputs(const UswInputs& in) {
  TORCH_CHECK(in.block_size > 0, "usw_attention: block_size must be > 0, got ", in.block_size);
  TORCH_CHECK(in.q.dim() == 4, "usw_attention: q must be (B,H,n,dh), got ", in.q.sizes());
  TORCH_CHECK(at::isFloatingType(in.q.scalar_type()),
              "usw_attention: q must be floating point, got ", in.q.scalar_type());
  TORCH_CHECK(in.q.size(2) > 0, "usw_attention: empty sequence (n = 0)");
  const auto B = in.q.size(0), H = in.q.size(1), n = in.q.size(2), dh = in.q.size(3);
  auto same = [&](const at::Tensor& t, const char* name) {
    TORCH_CHECK(t.defined(), "usw_attention: ", name, " is undefined");
    TORCH_CHECK(t.scalar_type() == in.q.scalar_type(), "usw_attention: ", name, " has dtype ",
                t.scalar_type(), " but q has ", in.q.scalar_type());
    TORCH_CHECK(t.device() == in.q.device(), "usw_attention: ", name, " is on ", t.device(),
                " but q is on ", in.q.device());
  };
  for (auto [t, name] : {std::pair{&in.k, "k"}, {&in.v, "v"}}) {
    same(*t, name);
    TORCH_CHECK(t->sizes() == in.q.sizes(), "usw_attention: ", name, " must have q's shape ",
                in.q.sizes(), ", got ", t->sizes());
  }
  same(in.packed_k, "packed_k");
  TORCH_CHECK(in.packed_k.dim() == 4 && in.packed_k.size(0) == B && in.packed_k.size(1) == H &&
                  in.packed_k.size(3) == dh,
              "usw_attention: packed_k must be (B,H,s,dh) = (", B, ",", H, ",s,", dh, "), got ",
              in.packed_k.sizes());
  same(in.packed_v, "packed_v");
  TORCH_CHECK(in.packed_v.sizes() == in.packed_k.sizes(),
              "usw_attention: packed_v must have packed_k's shape ", in.packed_k.sizes(), ", got ",
              in.packed_v.sizes());
  TORCH_CHECK(in.valid.defined() && in.valid.scalar_type() == at::kBool,
              "usw_attention: valid must be a bool tensor");
  TORCH_CHECK(in.valid.dim() == 2 && in.valid.size(0) == B && in.valid.size(1) == n,
              "usw_attention: valid must be (B,n) = (", B, ",", n, "), got ", in.valid.sizes());
  TORCH_CHECK(in.valid.device() == in.q.device(), "usw_attention: valid is on ", in.valid.device(),
              " but q is on ", in.q.device());
  TORCH_CHECK(in.bias.max_distance >= 0, "usw_attention: max_distance must be >= 0 (0: no cap), got ",
              in.bias.max_distance);
  for (auto [t, name] :
       {std::pair{&in.bias.alpha, "alpha"}, {&in.bias.beta, "beta"}, {&in.bias.gamma, "gamma"}}) {
    same(*t, name);
    TORCH_CHECK(t->dim() == 1 && t->size(0) == H, "usw_attention: ", name,
                " must be a (H) tensor with H = ", H, ", got ", t->sizes());
  }
}

// D[h,i,j] (research/littlebird.md §0.2) for integer index tensors i (X,1) and j (1,Y):
// 0 on i == j, alpha where i or j is token 0, else beta*d left / gamma*d right, with the
// distance d = |i-j| capped at max_distance when that is set.
// Returns (H,X,Y) in the parameters' dtype.
inline at::Tensor bialibi_bias(const at::Tensor& i, const at::Tensor& j, const BiAlibi& p) {
  const auto H = p.alpha.size(0);
  const auto d = i - j;
  auto distance = d.abs();
  if (p.max_distance > 0) distance.clamp_max_(p.max_distance);
  auto bias = at::where(d > 0, p.beta.view({H, 1, 1}), p.gamma.view({H, 1, 1}))
                  .mul_(distance.to(p.beta.scalar_type()));
  const auto cls = ((i == 0) | (j == 0)) & (d != 0);
  return at::where(cls, p.alpha.view({H, 1, 1}), bias);
}

// Masked logits get the dtype's lowest finite value rather than -inf: a row whose keys
// are all masked (a padded query when s = 0) then softmaxes to finite numbers, not NaN.
inline at::Scalar masked_logit(at::ScalarType dtype) {
  at::Scalar value;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "masked_logit",
                                  [&] { value = std::numeric_limits<scalar_t>::lowest(); });
  return value;
}

}  // namespace longqa::attention::detail
