// Token-band sliding-window attention (Longformer's local attention, ModernBERT's local layers):
// the dense reference and the blocked version. See include/longqa/banded_attention.h.
#include "longqa/banded_attention.h"

#include <torch/torch.h>

#include <limits>
#include <stdexcept>

namespace longqa::attention {
namespace {

// A finite "minus infinity": rows with every key masked (padding) stay free of NaN, in values and gradients.
double lowest(at::ScalarType t) {
  return t == at::kHalf ? -65504.0 : static_cast<double>(std::numeric_limits<float>::lowest());
}

constexpr int64_t kDenseUpTo = 2048;

void check(const BandedInputs& in) {
  if (in.q.dim() != 4 || in.k.sizes() != in.q.sizes() || in.v.sizes() != in.q.sizes())
    throw std::invalid_argument("banded_attention: q, k, v must be (B,H,n,dh) of one shape");
  if (in.radius < 1) throw std::invalid_argument("banded_attention: radius must be >= 1");
  if (in.extra_k.defined() != in.extra_v.defined() || in.extra_k.defined() != in.extra_valid.defined())
    throw std::invalid_argument("banded_attention: extra_k, extra_v and extra_valid come together");
}

// Scores of every query against the extra keys, masked where a slot is not real: (B,H,n,G).
at::Tensor extra_scores(const BandedInputs& in, const at::Tensor& q) {
  auto s = at::matmul(q, in.extra_k.transpose(-1, -2));
  const auto B = q.size(0), G = in.extra_k.size(2);
  return s.masked_fill(in.extra_valid.logical_not().view({B, 1, 1, G}), lowest(s.scalar_type()));
}

// Short sequences: torch's fused scaled_dot_product_attention over all keys with the band as a mask (one kernel,
// no score matrix kept) beats many small block products up to about 2k tokens; at 4k the blocked version wins
// (ModernBERT 980 against 1,568 ms, Longformer 1,543 against 1,770 ms: bench/results/family_speed.md).
at::Tensor banded_attention_fused_dense(const BandedInputs& in) {
  const auto B = in.q.size(0), n = in.q.size(2);
  const auto pos = at::arange(n, in.q.options().dtype(at::kLong));
  auto allowed = (pos.unsqueeze(1) - pos.unsqueeze(0)).abs().le(in.radius).view({1, 1, n, n}).logical_and(
      in.key_mask.view({B, 1, 1, n}));
  at::Tensor k = in.k, v = in.v;
  if (in.extra_k.defined() && in.extra_k.size(2) > 0) {
    const auto G = in.extra_k.size(2);
    k = at::cat({in.extra_k, k}, 2);
    v = at::cat({in.extra_v, v}, 2);
    allowed = at::cat({in.extra_valid.view({B, 1, 1, G}).expand({B, 1, n, G}), allowed.expand({B, 1, n, n})}, -1);
  }
  const auto out = at::scaled_dot_product_attention(in.q, k, v, allowed, 0.0, false, in.scale);
  return out.masked_fill(in.query_valid.logical_not().view({B, 1, n, 1}), 0.0);  // also the NaN of empty rows
}

}  // namespace

at::Tensor banded_attention_reference(const BandedInputs& in) {
  check(in);
  const auto B = in.q.size(0), n = in.q.size(2);
  const auto q = in.q * in.scale;
  auto s = at::matmul(q, in.k.transpose(-1, -2));  // (B,H,n,n)
  const auto pos = at::arange(n, in.q.options().dtype(at::kLong));
  const auto band = (pos.unsqueeze(1) - pos.unsqueeze(0)).abs().le(in.radius);  // (n,n)
  const auto allowed = band.view({1, 1, n, n}).logical_and(in.key_mask.view({B, 1, 1, n}));
  s = s.masked_fill(allowed.logical_not(), lowest(s.scalar_type()));
  const bool extra = in.extra_k.defined() && in.extra_k.size(2) > 0;
  if (extra) s = at::cat({extra_scores(in, q), s}, -1);
  auto p = at::softmax(s, -1);
  at::Tensor out;
  if (extra) {
    const auto G = in.extra_k.size(2);
    out = at::matmul(p.narrow(-1, 0, G), in.extra_v) + at::matmul(p.narrow(-1, G, n), in.v);
  } else {
    out = at::matmul(p, in.v);
  }
  return out.masked_fill(in.query_valid.logical_not().view({B, 1, n, 1}), 0.0);
}

at::Tensor banded_attention(const BandedInputs& in) {
  check(in);
  return in.q.size(2) <= kDenseUpTo ? banded_attention_fused_dense(in) : banded_attention_blocked(in);
}

at::Tensor banded_attention_blocked(const BandedInputs& in) {
  check(in);
  const auto B = in.q.size(0), H = in.q.size(1), n = in.q.size(2), dh = in.q.size(3);
  const int64_t w = in.radius;
  const int64_t padded = (n + w - 1) / w * w, nc = padded / w, tail = padded - n;
  // Queries in blocks of w; keys padded by w on both sides so block c sees key blocks c-1, c, c+1.
  auto q = at::constant_pad_nd(in.q * in.scale, {0, 0, 0, tail}).view({B, H, nc, w, dh});
  const auto k = at::constant_pad_nd(in.k, {0, 0, w, w + tail}).view({B, H, nc + 2, w, dh});
  const auto v = at::constant_pad_nd(in.v, {0, 0, w, w + tail}).view({B, H, nc + 2, w, dh});
  const auto around = [&](const at::Tensor& t, int64_t dim) {  // (.., nc + 2, w, ..) -> (.., nc, 3w, ..)
    return at::cat({t.narrow(dim, 0, nc), t.narrow(dim, 1, nc), t.narrow(dim, 2, nc)}, dim + 1);
  };
  const auto kw = around(k, 2), vw = around(v, 2);  // (B,H,nc,3w,dh)
  const auto key_ok = around(at::constant_pad_nd(in.key_mask, {w, w + tail}, 0).view({B, nc + 2, w}), 1);  // (B,nc,3w)
  // Query a of a block and key b of its three: distance (b - w) - a.
  const auto a = at::arange(w, in.q.options().dtype(at::kLong)).view({w, 1});
  const auto b = at::arange(3 * w, in.q.options().dtype(at::kLong)).view({1, 3 * w});
  const auto band = (b - w - a).abs().le(w);  // (w,3w)
  const auto allowed = band.view({1, 1, w, 3 * w}).logical_and(key_ok.view({B, nc, 1, 3 * w}));
  auto s = at::matmul(q, kw.transpose(-1, -2));  // (B,H,nc,w,3w)
  s = s.masked_fill(allowed.logical_not().view({B, 1, nc, w, 3 * w}), lowest(s.scalar_type()));
  const bool extra = in.extra_k.defined() && in.extra_k.size(2) > 0;
  const int64_t G = extra ? in.extra_k.size(2) : 0;
  if (extra) s = at::cat({extra_scores(in, q.view({B, H, padded, dh})).view({B, H, nc, w, G}), s}, -1);
  const auto p = at::softmax(s, -1);
  auto out = extra ? at::matmul(p.narrow(-1, G, 3 * w), vw) +
                         at::matmul(p.narrow(-1, 0, G).reshape({B, H, padded, G}), in.extra_v).view({B, H, nc, w, dh})
                   : at::matmul(p, vw);
  out = out.reshape({B, H, padded, dh}).narrow(2, 0, n);
  return out.masked_fill(in.query_valid.logical_not().view({B, 1, n, 1}), 0.0);
}

}  // namespace longqa::attention
