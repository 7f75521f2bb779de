// Sliding-window attention over a token band, with optional extra (global) keys: what Longformer's
// local attention and ModernBERT's local layers compute. Query i attends, in one softmax, to every
// attendable key j with |i - j| <= radius and to every valid extra key.
//
// Shapes: B batch, H heads, n tokens, G extra keys, dh head dim. Scores are q.k * scale.
#pragma once
#include <ATen/core/Tensor.h>
#include <cstdint>

namespace longqa::attention {

struct BandedInputs {
  at::Tensor q, k, v;        // (B,H,n,dh)
  at::Tensor key_mask;       // (B,n) bool: true = the key may be attended in the band
  at::Tensor query_valid;    // (B,n) bool: false rows come out zero (padding)
  int64_t radius = 64;       // |i - j| <= radius
  double scale = 1.0;
  at::Tensor extra_k, extra_v;  // (B,H,G,dh) or undefined: keys every query also attends to
  at::Tensor extra_valid;       // (B,G) bool: which extra slots are real
};

// Dense n x n masked reference: the test oracle.
at::Tensor banded_attention_reference(const BandedInputs& in);
// Blocked version: queries in blocks of `radius`, each against its own and the two neighbouring key
// blocks (3 * radius keys), so time and memory grow linearly with n. Returns (B,H,n,dh).
at::Tensor banded_attention_blocked(const BandedInputs& in);
// What the models call: up to 2,048 tokens torch's fused scaled_dot_product_attention with the band as a
// mask (faster there), beyond that the blocked version.
at::Tensor banded_attention(const BandedInputs& in);

}  // namespace longqa::attention
