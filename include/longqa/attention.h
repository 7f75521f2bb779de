// LittleBird attention (research/littlebird.md §0): pack attention and the joint
// unpack + blocked sliding-window attention with the BiALiBi bias.
//
// Shapes: B batch, H heads, n tokens (any length; padded internally to a
// multiple of block_size), s packed positions, dh head dim.
// Query scaling by 1/sqrt(dh) happens inside every function here.
#pragma once
#include <ATen/core/Tensor.h>
#include <cstdint>

namespace longqa::attention {

// Per-head BiALiBi scalars, each a (H) tensor (trainable; gradients flow).
// D[i,j] = 0 if i == j; alpha if i == 0 or j == 0; beta*d if i > j; gamma*d if i < j, where the
// distance d = |i-j|, or min(|i-j|, max_distance) when max_distance > 0.
// The bias is subtracted from the logits. Packed keys get the constant Dp = (beta+gamma)/2 * block_size
// (with or without a cap).
//
// Why a cap: the only far keys a query sees are those of block 0 (the question), at distances
// up to n. A model trained on windows of T tokens never saw the bias past distance T, and at
// 15k tokens its tokens can no longer see the question (measured: whole-article F1 falls
// from 45 near the question to 0 past 10k tokens). Capped at T, a longer window gives every
// query the bias it was trained with; windows of at most max_distance tokens are unchanged.
struct BiAlibi {
  at::Tensor alpha, beta, gamma;
  int64_t max_distance = 0;  // 0: no cap (the paper's bias)
};

struct UswInputs {
  at::Tensor q, k, v;        // (B,H,n,dh) token queries / keys / values
  at::Tensor packed_k;       // (B,H,s,dh)  K(Cp): the packed context through the shared key projection
  at::Tensor packed_v;       // (B,H,s,dh)  V(Cp)
  at::Tensor valid;          // (B,n) bool, true = real token, false = padding
  BiAlibi bias;
  int64_t block_size = 64;
};

// Unpack + sliding window (USWAttn): every query token i of block qb = i / block_size
// attends, in ONE softmax, to all s packed keys (bias -Dp) and to the valid token keys
// of key blocks {0, qb-1, qb, qb+1} (each key once; bias -D[i,j]).
// Returns (B,H,n,dh); rows of padded queries are zero.

// Dense masked O(n^2) reference: the test oracle.
at::Tensor usw_attention_reference(const UswInputs& in);
// Blocked libtorch version: time and memory linear in n, autograd through every input.
at::Tensor usw_attention_blocked(const UswInputs& in);
// Fused CPU forward (one pass per query block over its keys, vectorised with at::vec; no
// autograd): float32 CPU tensors whose head size is a multiple of the vector width.
at::Tensor usw_attention_fused_cpu(const UswInputs& in);
bool usw_attention_fused_cpu_supports(const UswInputs& in);
// What the model calls: the fastest implementation for the tensors' device (on the CPU the
// fused forward when no gradient is needed and it supports the inputs, else the blocked one).
at::Tensor usw_attention(const UswInputs& in);

// Pack attention: packed queries (B,H,s,dh) attend to token keys/values (B,H,n,dh),
// padding keys masked (valid: (B,n) bool). No positional bias. Returns (B,H,s,dh).
at::Tensor pack_attention(const at::Tensor& packed_q, const at::Tensor& k, const at::Tensor& v,
                          const at::Tensor& valid);

}  // namespace longqa::attention
