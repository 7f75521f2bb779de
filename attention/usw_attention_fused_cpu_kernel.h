// The fused CPU USWAttn kernel, written once with ATen's at::vec and compiled once per
// instruction set: usw_attention_fused_cpu_avx2.cpp / _avx512.cpp define
// LONGQA_FUSED_NAMESPACE and include this file with that ISA's compiler flags.
//
// One task is one query block qb of one (batch, head). It gathers its keys — the s packed
// keys, then the token blocks {0, qb-1, qb, qb+1} (each once, clipped to the sequence) — into
// a small transposed tile, and computes logits, BiALiBi bias, masking, softmax and P·V for
// its b queries while the tile is in cache. The (b x (s+4b)) score tile (80 KB at b = s = 64)
// is per thread and reused: nothing of size n x W exists, and with at most five key segments
// an exact two-pass softmax over the cached tile costs less than an online one's rescaling.
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "usw_attention_fused_cpu.h"

namespace longqa::attention::fused_cpu::LONGQA_FUSED_NAMESPACE {
namespace {

using Vec = at::vec::Vectorized<float>;
constexpr int64_t V = Vec::size();
constexpr int64_t kRows = 4;          // query rows per register tile
constexpr int64_t kKeyVecs = V == 16 ? 4 : 2;  // key vectors per QK register tile

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// The two tile products use GCC's vector types: plain values that stay in registers once the
// loops are unrolled (at::vec's class wrappers were spilled to the stack every iteration).
typedef float VecReg __attribute__((vector_size(V * sizeof(float))));

inline VecReg load(const float* p) {
  VecReg v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, VecReg v) { __builtin_memcpy(p, &v, sizeof v); }

// scores[r][j] = sum_d q[r][d] * kt[d][j] for kRows rows and kKeyVecs*V keys.
inline void qk_tile(const float* q, int64_t dh, const float* kt, int64_t kt_stride, float* scores,
                    int64_t scores_stride) {
  VecReg acc[kRows][kKeyVecs] = {};
  for (int64_t d = 0; d < dh; ++d) {
    VecReg keys[kKeyVecs];
#pragma GCC unroll 8
    for (int64_t c = 0; c < kKeyVecs; ++c) keys[c] = load(kt + d * kt_stride + c * V);
#pragma GCC unroll 8
    for (int64_t r = 0; r < kRows; ++r) {
      const float qv = q[r * dh + d];
#pragma GCC unroll 8
      for (int64_t c = 0; c < kKeyVecs; ++c) acc[r][c] += qv * keys[c];
    }
  }
#pragma GCC unroll 8
  for (int64_t r = 0; r < kRows; ++r)
#pragma GCC unroll 8
    for (int64_t c = 0; c < kKeyVecs; ++c) store(scores + r * scores_stride + c * V, acc[r][c]);
}

// out[r][:] = (sum_j p[r][j] * v[j][:]) * inv[r] for R rows, DHV = dh / V vectors per row.
template <int64_t R, int64_t DHV>
inline void pv_tile(const float* p, int64_t p_stride, const float* v, int64_t keys, const float* inv,
                    float* out, int64_t out_stride, int64_t rows_left) {
  VecReg acc[R][DHV] = {};
  for (int64_t j = 0; j < keys; ++j) {
    VecReg vals[DHV];
#pragma GCC unroll 8
    for (int64_t c = 0; c < DHV; ++c) vals[c] = load(v + j * DHV * V + c * V);
#pragma GCC unroll 8
    for (int64_t r = 0; r < R; ++r) {
      const float pv = p[r * p_stride + j];
#pragma GCC unroll 8
      for (int64_t c = 0; c < DHV; ++c) acc[r][c] += pv * vals[c];
    }
  }
  for (int64_t r = 0; r < std::min(R, rows_left); ++r)
    for (int64_t c = 0; c < DHV; ++c) store(out + r * out_stride + c * V, acc[r][c] * inv[r]);
}

template <int64_t DHV>
void run(const Problem& p, int64_t first, int64_t last) {
  const int64_t dh = DHV * V, b = p.block, s = p.s, n = p.n;
  const int64_t nb = (n + b - 1) / b;
  const int64_t width = round_up(s + 4 * b, kKeyVecs * V);  // the widest key tile, padded
  const int64_t rows = round_up(b, kRows);
  // Per-thread tiles, reused by every task of this range.
  std::vector<float> kt(static_cast<size_t>(dh * width)), vl(static_cast<size_t>(width * dh)),
      ql(static_cast<size_t>(rows * dh)), scores(static_cast<size_t>(rows * width)),
      key_pos(static_cast<size_t>(width)), key_ok(static_cast<size_t>(width)), inv(static_cast<size_t>(rows));
  constexpr int64_t R = DHV >= 8 ? 2 : kRows;  // rows per P·V tile: R*DHV accumulators fit the registers

  for (int64_t task = first; task < last; ++task) {
    const int64_t qb = task % nb, head = (task / nb) % p.H, batch = task / nb / p.H;
    const bool* valid = p.valid + batch * p.valid_stride;
    const float* pk = p.packed_k + batch * p.pk_stride[0] + head * p.pk_stride[1];
    const float* pvv = p.packed_v + batch * p.pv_stride[0] + head * p.pv_stride[1];
    const float* kb_base = p.k + batch * p.k_stride[0] + head * p.k_stride[1];
    const float* vb_base = p.v + batch * p.v_stride[0] + head * p.v_stride[1];

    // Gather the keys: packed first, then the distinct token blocks in order.
    int64_t w = 0;
    auto add_key = [&](const float* key, const float* value, float pos, bool ok) {
      for (int64_t d = 0; d < dh; ++d) kt[d * width + w] = key[d];
      std::copy(value, value + dh, vl.data() + w * dh);
      key_pos[w] = pos;
      key_ok[w] = ok ? 1.0f : 0.0f;
      ++w;
    };
    for (int64_t r = 0; r < s; ++r) add_key(pk + r * p.pk_stride[2], pvv + r * p.pv_stride[2], 0.0f, true);
    int64_t blocks[4] = {0, qb - 1, qb, qb + 1};
    for (int64_t i = 0; i < 4; ++i) {
      const int64_t kb = blocks[i];
      if (kb < 0 || kb >= nb || (i > 0 && kb == 0)) continue;  // block 0 is always the first one
      for (int64_t j = kb * b; j < std::min(n, (kb + 1) * b); ++j)
        add_key(kb_base + j * p.k_stride[2], vb_base + j * p.v_stride[2], static_cast<float>(j), valid[j]);
    }
    const int64_t keys = w, padded_keys = round_up(keys, kKeyVecs * V);
    for (; w < padded_keys; ++w) {  // zero keys, masked
      for (int64_t d = 0; d < dh; ++d) kt[d * width + w] = 0.0f;
      key_pos[w] = 0.0f;
      key_ok[w] = 0.0f;
    }

    // The block's queries, scaled; rows past the sequence are zero.
    const int64_t q0 = qb * b, nq = std::min(b, n - q0), nq_padded = round_up(nq, kRows);
    const float* qb_base = p.q + batch * p.q_stride[0] + head * p.q_stride[1];
    for (int64_t r = 0; r < nq_padded; ++r) {
      float* dst = ql.data() + r * dh;
      if (r < nq) {
        const float* src = qb_base + (q0 + r) * p.q_stride[2];
        for (int64_t c = 0; c < DHV; ++c) (Vec::loadu(src + c * V) * Vec(p.scale)).store(dst + c * V);
      } else {
        std::fill(dst, dst + dh, 0.0f);
      }
    }

    for (int64_t r = 0; r < nq_padded; r += kRows)
      for (int64_t j = 0; j < padded_keys; j += kKeyVecs * V)
        qk_tile(ql.data() + r * dh, dh, kt.data() + j, width, scores.data() + r * width + j, width);

    // Bias, mask, softmax (unnormalised; 1/sum is applied to the output rows).
    const float alpha = p.alpha[head], beta = p.beta[head], gamma = p.gamma[head];
    const float packed_bias = (beta + gamma) * 0.5f * static_cast<float>(b);
    const Vec vbeta(beta), vgamma(gamma), vzero(0.0f), vmasked(p.masked);
    const float cap = p.max_distance;
    const Vec vcap(cap), vneg_cap(-cap);
    for (int64_t r = 0; r < nq; ++r) {
      float* row = scores.data() + r * width;
      const int64_t i = q0 + r;
      const Vec vi(static_cast<float>(i));
      for (int64_t j = 0; j < s; ++j) row[j] -= packed_bias;
      // Token keys: D = beta*(i-j) left of i, gamma*(j-i) right of it (0 on the diagonal),
      // the distance capped at max_distance.
      int64_t j = s;
      for (; j + V <= padded_keys; j += V) {
        const Vec diff = at::vec::minimum(at::vec::maximum(vi - Vec::loadu(key_pos.data() + j), vneg_cap), vcap);
        const Vec bias = Vec::blendv(vzero - vgamma * diff, vbeta * diff, diff > vzero);
        const Vec logit = Vec::loadu(row + j) - bias;
        Vec::blendv(vmasked, logit, Vec::loadu(key_ok.data() + j) != vzero).store(row + j);
      }
      for (; j < padded_keys; ++j) {  // s not a multiple of V
        const float diff = std::clamp(static_cast<float>(i) - key_pos[j], -cap, cap);
        row[j] = key_ok[j] != 0.0f ? row[j] - (diff > 0 ? beta * diff : -gamma * diff) : p.masked;
      }
      // Token 0 (the [CLS]) against any other token: alpha. Block 0 is the first token segment.
      if (i == 0) {
        for (int64_t k = s + 1; k < keys; ++k)
          if (key_ok[k] != 0.0f) row[k] = row[k] + std::min(key_pos[k], cap) * gamma - alpha;
      } else if (key_ok[s] != 0.0f) {
        row[s] = row[s] + beta * std::min(static_cast<float>(i), cap) - alpha;
      }
      // Softmax over the real keys (padding keys hold the masked value and become 0).
      Vec vmax(p.masked);
      for (int64_t k = 0; k < padded_keys; k += V) vmax = at::vec::maximum(vmax, Vec::loadu(row + k));
      float max = p.masked;
      {
        float lanes[V];
        vmax.store(lanes);
        for (float x : lanes) max = std::max(max, x);
      }
      Vec vsum(0.0f);
      const Vec vm(max);
      for (int64_t k = 0; k < padded_keys; k += V) {
        const Vec e = (Vec::loadu(row + k) - vm).exp_u20();
        e.store(row + k);
        vsum = vsum + e;
      }
      float lanes[V];
      vsum.store(lanes);
      float sum = 0.0f;
      for (float x : lanes) sum += x;
      inv[r] = valid[i] ? 1.0f / sum : 0.0f;  // a padded query's row is zero
    }
    for (int64_t r = nq; r < nq_padded; ++r) inv[r] = 0.0f;

    float* out = p.out + batch * p.out_stride[0] + head * p.out_stride[1] + q0 * p.out_stride[2];
    for (int64_t r = 0; r < nq; r += R)
      pv_tile<R, DHV>(scores.data() + r * width, width, vl.data(), keys, inv.data() + r, out + r * p.out_stride[2],
                      p.out_stride[2], nq - r);
  }
}

}  // namespace

Kernel kernel_for(int64_t dh) {
  if (dh == V) return &run<1>;
  if (dh == 2 * V) return &run<2>;
  if (dh == 4 * V) return &run<4>;
  if (dh == 8 * V) return &run<8>;
  return nullptr;
}

}  // namespace longqa::attention::fused_cpu::LONGQA_FUSED_NAMESPACE
