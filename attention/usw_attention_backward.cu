// Backward of the fused LittleBird attention kernels (FA2's recompute scheme), split in two
// kernels so that no tile needs atomics on contended dK/dV rows:
//   dq kernel   - query side, like the forward: recomputes P, dS = P (dP - delta), adds
//                 dS K into dQ and the bias gradients (sums of -dS times dD/dparam).
//   dkdv kernel - key side: each CTA owns a key tile and walks the query tiles that see it
//                 (3 blocks for a window tile; all queries, in chunks, for the packed keys and
//                 key block 0), accumulating dK, dV in registers; chunks of one tile meet in
//                 fp32 atomics (a few dozen adds per element at most).
// delta = rowsum(dout * out) comes first, from a third small kernel.
//
// Thread layout, shared tiles and the two builds (nvcc; plain C++ on the CPU emulation):
// usw_attention_cuda_common.cuh.
#include "usw_attention_cuda_common.cuh"

namespace longqa::attention::kernels::LONGQA_BACKEND {
namespace {

// delta[i] = sum_d dout[i][d] * out[i][d]; 8 lanes per row, 16 rows per CTA.
template <typename T, int D>
LQ_GLOBAL delta_kernel(const BackwardParams p) {
  const int h = blockIdx.y, bz = blockIdx.z, t = threadIdx.x;
  const int nq = p.kind == Kind::usw ? p.n : p.s;
  const int i = int(blockIdx.x) * (kThreads / 8) + t / 8, lane = t % 8;
  float sum = 0.f;
  if (i < nq) {
    const T* dout = head_ptr<T>(p.dout, bz, h) + i * p.dout.row_stride;
    const T* out = static_cast<const T*>(p.out) + ((int64_t(bz) * p.H + h) * nq + i) * D;
#pragma unroll
    for (int hh = 0; hh < D / 32; ++hh) {
      float a[4], b[4];
      load4(dout + hh * 32 + lane * 4, a);
      load4(out + hh * 32 + lane * 4, b);
#pragma unroll
      for (int e = 0; e < 4; ++e) sum = fmaf(a[e], b[e], sum);
    }
  }
  sum = row_sum(sum);
  if (i < nq && lane == 0) p.delta[(int64_t(bz) * p.H + h) * nq + i] = sum;
}

template <int D>
constexpr size_t dq_smem() {
  return sizeof(float) * (4 * kBlockN * (D + 4) + kBlockM * kLdScore);
}

// Query side: dQ += scale * dS K, and the bias gradients.
template <typename T, int D>
LQ_GLOBAL dq_kernel(const BackwardParams p) {
  constexpr int LD = D + 4;
  float* Qs = shared_memory();
  float* dOs = Qs + kBlockM * LD;
  float* Ks = dOs + kBlockM * LD;
  float* Vs = Ks + kBlockN * LD;
  float* dSs = Vs + kBlockN * LD;
  const int t = threadIdx.x, ty = t / 8, tx = t % 8;
  const QueryTile tile = query_tile(p);
  if (!tile.any_row) return;  // padded rows: no gradient anywhere (uniform exit)
  const int h = tile.h, bz = tile.bz, nq = tile.nq, i0 = tile.i0, i1 = tile.i1;
  const bool usw = tile.usw;

  float lse[4], delta[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int i = i0 + ty * 4 + r;
    const int64_t row = (int64_t(bz) * p.H + h) * nq + i;
    lse[r] = i < i1 ? p.lse[row] : INFINITY;  // +inf on padded rows too (forward)
    delta[r] = i < i1 ? p.delta[row] : 0.f;
  }
  load_tile<T, D>(Qs, head_ptr<T>(p.q, bz, h), p.q.row_stride, i0, i1, p.scale * kLog2e);
  load_tile<T, D>(dOs, head_ptr<T>(p.dout, bz, h), p.dout.row_stride, i0, i1, 1.f);
  const Bias2 bias = head_bias(p, h);
  const float half_b = 0.5f * float(p.block_size);

  float dq[4][D / 8];
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int x = 0; x < D / 8; ++x) dq[r][x] = 0.f;
  double g_alpha = 0, g_beta = 0, g_gamma = 0;  // sums of dS * dD/dparam (sign at the end)

  for_each_key_tile<T, D>(p, tile, Ks, Vs, [&](bool packed, int j0, const bool (&key_ok)[8]) {
    float sc[4][8], dp[4][8];
    dot_tile<D>(Qs, Ks, sc);
    dot_tile<D>(dOs, Vs, dp);
    float ga = 0.f, gb = 0.f, gg = 0.f;
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int i = i0 + ty * 4 + r;
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        const int j = j0 + tx + 8 * c;
        const float logit = biased_logit(sc[r][c], p, bias, packed, key_ok[c], i, j);
        const float prob = exp2f(logit - lse[r]);
        const float ds = prob * (dp[r][c] - delta[r]);
        dSs[(ty * 4 + r) * kLdScore + tx + 8 * c] = ds;
        if (usw && ds != 0.f) {
          if (packed) {
            gb += ds * half_b;
            gg += ds * half_b;
          } else if (i != j) {
            if (i == 0 || j == 0) ga += ds;
            else if (i > j) gb += ds * float(bialibi_distance(i, j, p.max_distance));
            else gg += ds * float(bialibi_distance(i, j, p.max_distance));
          }
        }
      }
    }
    g_alpha += ga, g_beta += gb, g_gamma += gg;
    sync_threads();
    pv_tile<D>(dSs, Ks, dq);
  });

  const int64_t qrow0 = (int64_t(bz) * p.H + h) * nq;
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int i = i0 + ty * 4 + r;
    if (i >= i1) continue;
    float* dst = p.dq + (qrow0 + i) * D + tx * 4;
#pragma unroll
    for (int hh = 0; hh < D / 32; ++hh)
#pragma unroll
      for (int e = 0; e < 4; ++e) atomic_add(dst + hh * 32 + e, dq[r][hh * 4 + e] * p.scale);
  }
  if (usw) {  // D = ... - bias, so d loss / d param = -sum(dS * dD/dparam)
    sync_threads();
    double* red = reinterpret_cast<double*>(Qs);
    red[t] = g_alpha, red[kThreads + t] = g_beta, red[2 * kThreads + t] = g_gamma;
    sync_threads();
    if (t < 3) {
      double sum = 0;
      for (int x = 0; x < kThreads; ++x) sum += red[t * kThreads + x];
      atomic_add(p.dbias + h * 3 + t, -sum);
    }
  }
}

template <int D>
constexpr size_t dkdv_smem() {
  return sizeof(float) * (4 * kBlockN * (D + 4) + 2 * kBlockN * kLdScore + 2 * kBlockM);
}

// Key side: each CTA owns one key tile and the query rows [qa, qe) that may see it.
template <typename T, int D>
LQ_GLOBAL dkdv_kernel(const BackwardParams p) {
  constexpr int LD = D + 4;
  float* Ks = shared_memory();
  float* Vs = Ks + kBlockN * LD;
  float* Qs = Vs + kBlockN * LD;
  float* dOs = Qs + kBlockM * LD;
  float* Pts = dOs + kBlockM * LD;
  float* dSts = Pts + kBlockN * kLdScore;
  float* lse_s = dSts + kBlockN * kLdScore;
  float* delta_s = lse_s + kBlockM;
  const int t = threadIdx.x, ty = t / 8, tx = t % 8;
  const int h = blockIdx.y, bz = blockIdx.z;
  const bool usw = p.kind == Kind::usw;
  const int nq = usw ? p.n : p.s;
  const uint8_t* valid = p.valid + bz * p.valid_stride;

  // Which key tile and which query rows.
  const KeyWork work = key_work(p.kind, p.n, p.s, p.block_size, p.query_chunk);
  const int w = blockIdx.x;
  bool packed = false;
  int j0, qa, qe;
  if (w < work.window_tiles) {
    j0 = (usw_block0_tiles(p.n, p.block_size) + w) * kBlockN;
    usw_tile_queries(j0, imin(j0 + kBlockN, p.n), p.n, p.block_size, &qa, &qe);
  } else {
    const int g = (w - work.window_tiles) / work.chunks;
    const int chunk = (w - work.window_tiles) % work.chunks;
    qa = chunk * p.query_chunk;
    qe = imin(qa + p.query_chunk, nq);
    const int token_globals = usw ? usw_block0_tiles(p.n, p.block_size) : work.global_tiles;
    packed = g >= token_globals;
    j0 = (packed ? g - token_globals : g) * kBlockN;
  }
  const int j1 = imin(j0 + kBlockN, packed ? p.s : p.n);
  const Tensor4 kt = pick(packed, p.k, p.packed_k);
  const Tensor4 vt = pick(packed, p.v, p.packed_v);
  load_tile<T, D>(Ks, head_ptr<T>(kt, bz, h), kt.row_stride, j0, j1, 1.f);
  load_tile<T, D>(Vs, head_ptr<T>(vt, bz, h), vt.row_stride, j0, j1, 1.f);
  bool key_ok[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) key_ok[r] = key_valid(valid, packed, j0 + ty * 4 + r, j1);
  const Bias2 bias = head_bias(p, h);
  const int64_t qrow0 = (int64_t(bz) * p.H + h) * nq;

  float dk[4][D / 8], dv[4][D / 8];
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int x = 0; x < D / 8; ++x) dk[r][x] = dv[r][x] = 0.f;

  for (int ia = qa; ia < qe; ia += kBlockM) {
    const int ib = imin(ia + kBlockM, qe);
    sync_threads();
    load_tile<T, D>(Qs, head_ptr<T>(p.q, bz, h), p.q.row_stride, ia, ib, p.scale * kLog2e);
    load_tile<T, D>(dOs, head_ptr<T>(p.dout, bz, h), p.dout.row_stride, ia, ib, 1.f);
    for (int x = t; x < kBlockM; x += kThreads) {
      const int i = ia + x;
      lse_s[x] = i < ib ? p.lse[qrow0 + i] : INFINITY;
      delta_s[x] = i < ib ? p.delta[qrow0 + i] : 0.f;
    }
    sync_threads();

    float sc[4][8], dp[4][8];  // [key row r][query column c]
    dot_tile<D>(Ks, Qs, sc);
    dot_tile<D>(Vs, dOs, dp);
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int j = j0 + ty * 4 + r;
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        const int x = tx + 8 * c, i = ia + x;
        const float logit = biased_logit(sc[r][c], p, bias, packed, key_ok[r], i, j);
        const float prob = exp2f(logit - lse_s[x]);
        Pts[(ty * 4 + r) * kLdScore + x] = prob;
        dSts[(ty * 4 + r) * kLdScore + x] = prob * (dp[r][c] - delta_s[x]);
      }
    }
    sync_threads();
    pv_tile<D>(Pts, dOs, dv);
    pv_tile<D>(dSts, Qs, dk);
  }

  // Qs held scale*log2(e)*q, so dK = scale * dS q = dS Qs * ln(2).
  float* dk_out = packed ? p.dpk : p.dk;
  float* dv_out = packed ? p.dpv : p.dv;
  const int64_t krow0 = (int64_t(bz) * p.H + h) * (packed ? p.s : p.n);
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int j = j0 + ty * 4 + r;
    if (j >= j1) continue;
    float* dkr = dk_out + (krow0 + j) * D + tx * 4;
    float* dvr = dv_out + (krow0 + j) * D + tx * 4;
#pragma unroll
    for (int hh = 0; hh < D / 32; ++hh)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        atomic_add(dkr + hh * 32 + e, dk[r][hh * 4 + e] * kLn2);
        atomic_add(dvr + hh * 32 + e, dv[r][hh * 4 + e]);
      }
  }
}

// ---- Host side --------------------------------------------------------------------------

template <typename T, int D>
void backward_typed(const BackwardParams& p, void* stream) {
  const bool usw = p.kind == Kind::usw;
  const int nq = usw ? p.n : p.s;
  auto delta = delta_kernel<T, D>;
  LQ_LAUNCH(delta, (Dim3{unsigned(ceil_div(nq, kThreads / 8)), unsigned(p.H), unsigned(p.B)}), 0,
            stream, p);

  auto dq = dq_kernel<T, D>;
  constexpr size_t dq_bytes = dq_smem<D>();
  allow_shared_memory(dq, dq_bytes);
  LQ_LAUNCH(dq,
            (Dim3{unsigned(ceil_div(nq, kBlockM) * (usw ? 1 : p.key_splits)), unsigned(p.H),
                  unsigned(p.B)}),
            dq_bytes, stream, p);

  auto dkdv = dkdv_kernel<T, D>;
  constexpr size_t dkdv_bytes = dkdv_smem<D>();
  allow_shared_memory(dkdv, dkdv_bytes);
  const KeyWork work = key_work(p.kind, p.n, p.s, p.block_size, p.query_chunk);
  LQ_LAUNCH(dkdv, (Dim3{unsigned(work.total()), unsigned(p.H), unsigned(p.B)}), dkdv_bytes, stream,
            p);
}

template <typename T, int D>
struct Backward {
  static void run(const BackwardParams& p, void* stream) { backward_typed<T, D>(p, stream); }
};

}  // namespace

void attention_backward(const BackwardParams& p, void* stream) { dispatch<Backward>(p, stream); }

}  // namespace longqa::attention::kernels::LONGQA_BACKEND
