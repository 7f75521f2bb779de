// Blocked USWAttn (research/littlebird.md §0.4 item 1, the BigBird trick). Each query block
// qb gets a key/value bank [packed (s) | block 0 (b) | blocks qb-1, qb, qb+1 (3b)] built by
// one cat of shifted views, so the logits are (B,H,blocks,b,W) with W = s + 4b: linear in n.
// All ops are differentiable ATen ops, so autograd reaches every input.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "longqa/attention.h"
#include "usw_common.h"

namespace longqa::attention {
namespace {

// On the CPU the query blocks go through in chunks of about this many logits: each chunk's
// temporaries then stay in cache and their memory is reused, instead of fresh n-sized
// allocations (page faults) for every intermediate. Other devices take all blocks at once.
constexpr int64_t kCpuChunkLogits = int64_t(1) << 20;

// Token blocks first .. first+count-1 of x (B,H,n,dh) as (B,H,count,b,dh); blocks (or the
// tail of the last block) outside 0..n-1 are zeros. A view when nothing is outside.
at::Tensor token_blocks(const at::Tensor& x, int64_t first, int64_t count, int64_t b) {
  const auto n = x.size(2);
  const auto lo = std::clamp(first * b, int64_t(0), n);
  const auto hi = std::clamp((first + count) * b, int64_t(0), n);
  auto blocks = x.narrow(2, lo, hi - lo);
  if (lo != first * b || hi != (first + count) * b)
    blocks = at::constant_pad_nd(blocks, {0, 0, lo - first * b, (first + count) * b - hi});
  return blocks.view({x.size(0), x.size(1), count, b, x.size(3)});
}

// Key/value bank of query blocks first .. first+count-1, (B,H,count,W,dh).
at::Tensor gather_bank(const at::Tensor& x, const at::Tensor& packed, const at::Tensor& block0,
                       int64_t first, int64_t count, int64_t b) {
  const auto B = x.size(0), H = x.size(1), dh = x.size(3), s = packed.size(2);
  const auto window = token_blocks(x, first - 1, count + 2, b);
  return at::cat(
      {packed.unsqueeze(2).expand({B, H, count, s, dh}), block0.expand({B, H, count, b, dh}),
       window.narrow(2, 0, count), window.narrow(2, 1, count), window.narrow(2, 2, count)},
      3);
}

// Which bank columns each query block may attend, (B,nb,W): packed keys always; token keys
// if valid, in range, and not a second copy of block 0 (the window of qb = 0 and 1 holds it).
at::Tensor bank_allowed(const at::Tensor& valid, int64_t s, int64_t b, int64_t nb) {
  const auto B = valid.size(0), n = valid.size(1);
  const auto blocks =
      at::constant_pad_nd(valid, {b, nb * b - n + b}, 0).view({B, nb + 2, b});  // pads: false
  auto ok =
      at::cat({at::ones({B, nb, s}, valid.options()), blocks.narrow(1, 1, 1).expand({B, nb, b}),
               blocks.narrow(1, 0, nb), blocks.narrow(1, 1, nb), blocks.narrow(1, 2, nb)},
              2);
  ok.select(1, 0).narrow(1, s + 2 * b, b).fill_(false);          // qb = 0: window block qb
  if (nb > 1) ok.select(1, 1).narrow(1, s + b, b).fill_(false);  // qb = 1: window block qb-1
  return ok;
}

// Bias of query block qb over its window blocks qb-1, qb, qb+1, (H,b,3b).
at::Tensor window_bias(const UswInputs& in, int64_t qb) {
  const auto b = in.block_size;
  const auto idx = at::TensorOptions().dtype(at::kLong).device(in.q.device());
  const auto i = at::arange(qb * b, (qb + 1) * b, idx).view({b, 1});
  const auto window = at::arange((qb - 1) * b, (qb + 2) * b, idx).view({1, 3 * b});
  return detail::bialibi_bias(i, window, in.bias);
}

}  // namespace

at::Tensor usw_attention_blocked(const UswInputs& in) {
  detail::check_usw_inputs(in);
  const auto B = in.q.size(0), H = in.q.size(1), n = in.q.size(2), dh = in.q.size(3);
  const auto s = in.packed_k.size(2), b = in.block_size;
  const auto nb = (n + b - 1) / b, W = s + 4 * b;

  // Bias without any (n, W) tensor. Past block 1 the window bias depends only on i-j, so all
  // blocks share the window template of block 2; query block 0 gets a correction (the alpha
  // row i = 0). The block-0 columns are computed per query block (b x b each, a fifth of the
  // logits): their distances reach n, where the cap makes the bias no longer linear in i.
  // Columns that duplicate block 0 or are out of range are masked, so their bias does not matter.
  const auto dp = (in.bias.beta + in.bias.gamma) * (0.5 * double(b));
  const auto window_template = window_bias(in, 2).unsqueeze(1);  // (H,1,b,3b)
  const auto first_fix = window_bias(in, 0) - window_template.squeeze(1);
  const auto idx = at::TensorOptions().dtype(at::kLong).device(in.q.device());
  const auto block0_keys = at::arange(b, idx).view({1, b});
  const auto blocked = bank_allowed(in.valid, s, b, nb).logical_not_().view({B, 1, nb, 1, W});
  const auto padded_query =
      at::constant_pad_nd(in.valid, {0, nb * b - n}, 0).logical_not_().view({B, 1, nb, b, 1});
  const auto mask_value = detail::masked_logit(in.q.scalar_type());
  const double scale = 1.0 / std::sqrt(double(dh));  // on q: n*dh values, not n*W logits
  const auto k0 = token_blocks(in.k, 0, 1, b), v0 = token_blocks(in.v, 0, 1, b);

  const int64_t chunk =
      in.q.is_cpu()
          ? std::clamp(kCpuChunkLogits / std::max(B * H * b * W, int64_t(1)), int64_t(1), nb)
          : nb;
  std::vector<at::Tensor> outs;
  for (int64_t first = 0; first < nb; first += chunk) {
    const auto count = std::min(chunk, nb - first);
    const auto q = token_blocks(in.q, first, count, b) * scale;
    auto logits =
        at::matmul(q, gather_bank(in.k, in.packed_k, k0, first, count, b).transpose(-1, -2));
    logits.narrow(4, 0, s).sub_(dp.view({H, 1, 1, 1}));
    const auto queries = at::arange(first * b, (first + count) * b, idx).view({count * b, 1});
    logits.narrow(4, s, b).sub_(detail::bialibi_bias(queries, block0_keys, in.bias).view({H, count, b, b}));
    logits.narrow(4, s + b, 3 * b).sub_(window_template);
    if (first == 0) logits.select(2, 0).narrow(3, s + b, 3 * b).sub_(first_fix);
    logits.masked_fill_(blocked.narrow(2, first, count), mask_value);
    const auto out =
        at::matmul(at::softmax(logits, -1), gather_bank(in.v, in.packed_v, v0, first, count, b));
    outs.push_back(out.masked_fill(padded_query.narrow(2, first, count), 0));
  }
  const auto out = (outs.size() == 1 ? outs[0] : at::cat(outs, 2)).view({B, H, nb * b, dh});
  return nb * b == n ? out : out.narrow(2, 0, n).contiguous();
}

}  // namespace longqa::attention
