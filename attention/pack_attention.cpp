// Pack attention (Luna's pack step): s packed queries over the n token keys, padding masked.
#include <ATen/ATen.h>

#include <cmath>

#include "longqa/attention.h"
#include "op_registration.h"
#include "usw_common.h"

namespace longqa::attention {

at::Tensor pack_attention(const at::Tensor& packed_q, const at::Tensor& k, const at::Tensor& v,
                          const at::Tensor& valid) {
  // CUDA tensors go through the longqa::pack_attention operator (the fused kernel).
  return packed_q.is_cuda() ? pack_attention_op(packed_q, k, v, valid)
                            : detail::pack_attention_aten(packed_q, k, v, valid);
}

namespace detail {

at::Tensor pack_attention_aten(const at::Tensor& packed_q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& valid) {
  TORCH_CHECK(packed_q.dim() == 4, "pack_attention: packed_q must be (B,H,s,dh), got ",
              packed_q.sizes());
  TORCH_CHECK(at::isFloatingType(packed_q.scalar_type()),
              "pack_attention: packed_q must be floating point, got ", packed_q.scalar_type());
  const auto B = packed_q.size(0), H = packed_q.size(1), dh = packed_q.size(3);
  TORCH_CHECK(k.dim() == 4 && k.size(0) == B && k.size(1) == H && k.size(3) == dh,
              "pack_attention: k must be (B,H,n,dh) = (", B, ",", H, ",n,", dh, "), got ",
              k.sizes());
  TORCH_CHECK(v.sizes() == k.sizes(), "pack_attention: v must have k's shape ", k.sizes(), ", got ",
              v.sizes());
  TORCH_CHECK(
      k.scalar_type() == packed_q.scalar_type() && v.scalar_type() == packed_q.scalar_type(),
      "pack_attention: dtypes differ: packed_q ", packed_q.scalar_type(), ", k ", k.scalar_type(),
      ", v ", v.scalar_type());
  TORCH_CHECK(k.device() == packed_q.device() && v.device() == packed_q.device() &&
                  valid.device() == packed_q.device(),
              "pack_attention: all tensors must be on ", packed_q.device());
  const auto n = k.size(2);
  TORCH_CHECK(valid.scalar_type() == at::kBool && valid.dim() == 2 && valid.size(0) == B &&
                  valid.size(1) == n,
              "pack_attention: valid must be a (B,n) = (", B, ",", n, ") bool tensor, got ",
              valid.scalar_type(), " ", valid.sizes());

  auto logits = at::matmul(packed_q * (1.0 / std::sqrt(double(dh))), k.transpose(-1, -2));
  const auto padding = valid.logical_not();
  logits.masked_fill_(padding.view({B, 1, 1, n}), detail::masked_logit(logits.scalar_type()));
  const auto out = at::matmul(at::softmax(logits, -1), v);
  // A row with no valid key softmaxed over padding only: its output means nothing, zero it.
  return out.masked_fill(padding.all(1).view({B, 1, 1, 1}), 0);
}

}  // namespace detail

}  // namespace longqa::attention
