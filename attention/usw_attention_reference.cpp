// Dense O(n^2) USWAttn: every query scores every key, a (n, s+n) mask keeps the packed keys
// and the valid keys of blocks {0, qb-1, qb, qb+1}. Slow on purpose; it is the test oracle.
#include <ATen/ATen.h>

#include <cmath>

#include "longqa/attention.h"
#include "usw_common.h"

namespace longqa::attention {

at::Tensor usw_attention_reference(const UswInputs& in) {
  detail::check_usw_inputs(in);
  const auto B = in.q.size(0), H = in.q.size(1), n = in.q.size(2), dh = in.q.size(3);
  const auto s = in.packed_k.size(2), b = in.block_size;
  const auto idx = at::TensorOptions().dtype(at::kLong).device(in.q.device());

  // Logits over [packed keys | token keys].
  const auto keys = at::cat({in.packed_k, in.k}, 2);
  const auto values = at::cat({in.packed_v, in.v}, 2);
  auto logits = at::matmul(in.q * (1.0 / std::sqrt(double(dh))), keys.transpose(-1, -2));

  // Bias: the constant Dp on packed keys, BiALiBi D[i,j] on token keys.
  const auto dp = (in.bias.beta + in.bias.gamma) * (0.5 * double(b));
  logits.narrow(3, 0, s).sub_(dp.view({1, H, 1, 1}));
  const auto pos = at::arange(n, idx);
  logits.narrow(3, s, n).sub_(detail::bialibi_bias(pos.view({n, 1}), pos.view({1, n}), in.bias));

  // Mask: token key j is seen by query i iff its block is 0 or next to i's block, and it is valid.
  const auto blk = at::div(pos, b, "floor");
  const auto qb = blk.view({n, 1}), kb = blk.view({1, n});
  const auto window = (kb == 0) | ((kb - qb).abs() <= 1);                // (n,n)
  const auto token_ok = window.unsqueeze(0) & in.valid.view({B, 1, n});  // (B,n,n)
  const auto ok = at::cat({at::ones({B, n, s}, idx.dtype(at::kBool)), token_ok}, 2);
  logits.masked_fill_(ok.logical_not().unsqueeze(1), detail::masked_logit(logits.scalar_type()));

  const auto out = at::matmul(at::softmax(logits, -1), values);
  return out.masked_fill(in.valid.logical_not().view({B, 1, n, 1}), 0);
}

}  // namespace longqa::attention
