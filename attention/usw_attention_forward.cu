// Forward of the fused LittleBird attention kernels (research/littlebird.md §0.4 item 2).
//
// One CTA per (query tile of 64 rows, head, batch). It streams the key tiles of its disjoint
// key ranges (packed keys, key block 0, the window blocks minus block 0; see usw_key_ranges)
// through shared memory with an online softmax in log2 units, computing the BiALiBi bias and
// the masks in registers, and writes O and the row logsumexp (lse). Pack attention is the same
// kernel with the token keys split into chunks (flash-decoding: s is only ~64 rows, so
// parallelism comes from the keys), merged by a second kernel.
//
// Thread layout, shared tiles and the two builds (nvcc; plain C++ on the CPU emulation):
// usw_attention_cuda_common.cuh.
#include "usw_attention_cuda_common.cuh"

namespace longqa::attention::kernels::LONGQA_BACKEND {
namespace {

template <int D>
constexpr size_t forward_smem() {
  return sizeof(float) * (3 * kBlockN * (D + 4) + kBlockM * kLdScore);
}

template <typename T, int D>
LQ_GLOBAL forward_kernel(const AttentionParams p) {
  constexpr int LD = D + 4;
  float* Qs = shared_memory();
  float* Ks = Qs + kBlockM * LD;
  float* Vs = Ks + kBlockN * LD;
  float* Ps = Vs + kBlockN * LD;
  const int t = threadIdx.x, ty = t / 8, tx = t % 8;
  const QueryTile tile = query_tile(p);
  const int h = tile.h, bz = tile.bz, nq = tile.nq, split = tile.split, i0 = tile.i0, i1 = tile.i1;
  const bool usw = tile.usw;
  const uint8_t* valid = tile.valid;

  bool row_ok[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int i = i0 + ty * 4 + r;
    row_ok[r] = i < i1 && (!usw || valid[i] != 0);
  }

  float m[4], l[4], acc[4][D / 8];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
#pragma unroll
    for (int x = 0; x < D / 8; ++x) acc[r][x] = 0.f;
  }

  if (tile.any_row) {
    load_tile<T, D>(Qs, head_ptr<T>(p.q, bz, h), p.q.row_stride, i0, i1, p.scale * kLog2e);
    const Bias2 bias = head_bias(p, h);
    for_each_key_tile<T, D>(p, tile, Ks, Vs, [&](bool packed, int j0, const bool (&key_ok)[8]) {
      float sc[4][8];
      dot_tile<D>(Qs, Ks, sc);
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int c = 0; c < 8; ++c)
          sc[r][c] = row_ok[r] ? biased_logit(sc[r][c], p, bias, packed, key_ok[c],
                                              i0 + ty * 4 + r, j0 + tx + 8 * c)
                               : -INFINITY;

#pragma unroll
      for (int r = 0; r < 4; ++r) {
        float mx = sc[r][0];
#pragma unroll
        for (int c = 1; c < 8; ++c) mx = fmaxf(mx, sc[r][c]);
        mx = row_max(mx);
        const float m_new = fmaxf(m[r], mx);
        const float m_use = m_new == -INFINITY ? 0.f : m_new;  // a row with nothing seen yet
        const float corr = exp2f(m[r] - m_use);
        float sum = 0.f;
#pragma unroll
        for (int c = 0; c < 8; ++c) {
          sc[r][c] = exp2f(sc[r][c] - m_use);
          sum += sc[r][c];
        }
        sum = row_sum(sum);
        l[r] = l[r] * corr + sum;
        m[r] = m_new;
#pragma unroll
        for (int x = 0; x < D / 8; ++x) acc[r][x] *= corr;
#pragma unroll
        for (int c = 0; c < 8; ++c) Ps[(ty * 4 + r) * kLdScore + tx + 8 * c] = sc[r][c];
      }
      sync_threads();
      pv_tile<D>(Ps, Vs, acc);
    });
  }

#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int i = i0 + ty * 4 + r;
    if (i >= i1) continue;
    const float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;
    const int64_t row = (int64_t(bz) * p.H + h) * nq + i;
    if (usw) {
      T* o = static_cast<T*>(p.out) + row * D;
#pragma unroll
      for (int hh = 0; hh < D / 32; ++hh) {
        float f[4];
#pragma unroll
        for (int e = 0; e < 4; ++e) f[e] = acc[r][hh * 4 + e] * inv;
        store4(o + hh * 32 + tx * 4, f);
      }
      if (tx == 0) p.lse[row] = l[r] > 0.f ? m[r] + log2f(l[r]) : INFINITY;
    } else {
      const int64_t prow = int64_t(split) * p.B * p.H * nq + row;
      float* o = p.out_partial + prow * D;
#pragma unroll
      for (int hh = 0; hh < D / 32; ++hh) {
        const F4 f{acc[r][hh * 4] * inv, acc[r][hh * 4 + 1] * inv, acc[r][hh * 4 + 2] * inv,
                   acc[r][hh * 4 + 3] * inv};
        *reinterpret_cast<F4*>(o + hh * 32 + tx * 4) = f;
      }
      if (tx == 0) p.lse_partial[prow] = l[r] > 0.f ? m[r] + log2f(l[r]) : -INFINITY;
    }
  }
}

// Pack attention: merge the key splits. out = sum_k 2^(lse_k - lse) out_k.
template <typename T>
LQ_GLOBAL pack_combine_kernel(const AttentionParams p) {
  const int h = blockIdx.y, bz = blockIdx.z, D = p.dh;
  const int64_t rows = int64_t(p.B) * p.H * p.s, base = (int64_t(bz) * p.H + h) * p.s;
  for (int idx = int(blockIdx.x) * kThreads + threadIdx.x; idx < p.s * D;
       idx += kThreads * int(gridDim.x)) {
    const int i = idx / D, d = idx % D;
    const int64_t row = base + i;
    float mx = -INFINITY;
    for (int k = 0; k < p.key_splits; ++k) mx = fmaxf(mx, p.lse_partial[k * rows + row]);
    float o = 0.f, lse = INFINITY;
    if (mx != -INFINITY) {
      float sum = 0.f;
      for (int k = 0; k < p.key_splits; ++k) sum += exp2f(p.lse_partial[k * rows + row] - mx);
      lse = mx + log2f(sum);
      for (int k = 0; k < p.key_splits; ++k)
        o += exp2f(p.lse_partial[k * rows + row] - lse) * p.out_partial[(k * rows + row) * D + d];
    }
    static_cast<T*>(p.out)[row * D + d] = from_float<T>(o);
    if (d == 0) p.lse[row] = lse;
  }
}

// ---- Host side --------------------------------------------------------------------------

template <typename T, int D>
void forward_typed(const AttentionParams& p, void* stream) {
  const bool usw = p.kind == Kind::usw;
  const int nq = usw ? p.n : p.s;
  const Dim3 grid{unsigned(ceil_div(nq, kBlockM) * (usw ? 1 : p.key_splits)), unsigned(p.H),
                  unsigned(p.B)};
  constexpr size_t smem = forward_smem<D>();
  auto kernel = forward_kernel<T, D>;
  allow_shared_memory(kernel, smem);
  LQ_LAUNCH(kernel, grid, smem, stream, p);
  if (!usw) {
    auto combine = pack_combine_kernel<T>;
    const Dim3 cgrid{unsigned(ceil_div(p.s * p.dh, kThreads)), unsigned(p.H), unsigned(p.B)};
    LQ_LAUNCH(combine, cgrid, 0, stream, p);
  }
}

template <typename T, int D>
struct Forward {
  static void run(const AttentionParams& p, void* stream) { forward_typed<T, D>(p, stream); }
};

}  // namespace

void attention_forward(const AttentionParams& p, void* stream) { dispatch<Forward>(p, stream); }

}  // namespace longqa::attention::kernels::LONGQA_BACKEND
