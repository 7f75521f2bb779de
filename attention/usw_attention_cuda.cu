// Fused LittleBird attention kernels (research/littlebird.md §0.4 item 2), fp32 accumulation.
//
// Forward: one CTA per (query tile of 64 rows, head, batch). It streams the key tiles of its
// disjoint key ranges (packed keys, key block 0, the window blocks minus block 0; see
// usw_key_ranges) through shared memory with an online softmax in log2 units, computing the
// BiALiBi bias and the masks in registers, and writes O and the row logsumexp (lse).
// Pack attention is the same kernel with the token keys split into chunks (flash-decoding:
// s is only ~64 rows, so parallelism comes from the keys), merged by a second kernel.
//
// Backward (FA2's recompute scheme, split in two kernels so that no tile needs atomics on
// contended dK/dV rows):
//   dq kernel   - query side, like the forward: recomputes P, dS = P (dP - delta), adds
//                 dS K into dQ and the bias gradients (sums of -dS times dD/dparam).
//   dkdv kernel - key side: each CTA owns a key tile and walks the query tiles that see it
//                 (3 blocks for a window tile; all queries, in chunks, for the packed keys and
//                 key block 0), accumulating dK, dV in registers; chunks of one tile meet in
//                 fp32 atomics (a few dozen adds per element at most).
//
// Thread layout of a 64x64 score tile (128 threads): thread (ty = t/8, tx = t%8) owns rows
// ty*4 + r (r < 4) and columns tx + 8c (c < 8); a row lives in 8 consecutive lanes, so row
// max/sum are 3 xor-shuffles. Accumulators over dh own rows ty*4 + r and columns
// h*32 + tx*4 + e (e < 4). Shared tiles are fp32 [64][dh+4], which keeps the float4 reads of
// both products conflict-free. Plain FMA code: correct and simple first; tensor cores (mma)
// are the next step once it runs on the GPU.
//
// Built two ways: by nvcc for the device, and, with LONGQA_CUDA_EMULATION, as plain C++ in the
// test binary, where every CTA runs as 128 std::threads with real barriers (tests on CPUs).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "usw_attention_cuda.h"

#if defined(LONGQA_CUDA_EMULATION)
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#define LONGQA_BACKEND emu
#define LQ_DEVICE inline
#define LQ_GLOBAL void
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define LONGQA_BACKEND cuda
#define LQ_DEVICE __device__ __forceinline__
#define LQ_GLOBAL __global__ void __launch_bounds__(kThreads)
#endif

namespace longqa::attention::kernels::LONGQA_BACKEND {
namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// ---- Backend layer: the few CUDA primitives the kernels use ------------------------------
#if defined(LONGQA_CUDA_EMULATION)

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};
struct alignas(16) F4 {
  float x, y, z, w;
};
struct alignas(8) U2 {
  uint32_t x, y;
};
using Half = c10::Half;
using BFloat16 = c10::BFloat16;

class Barrier {
 public:
  void init(int count) { count_ = count; }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t gen = generation_;
    if (++waiting_ == count_) {
      waiting_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != gen; });
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int count_ = 0, waiting_ = 0;
  uint64_t generation_ = 0;
};

struct Block {
  Barrier cta;
  Barrier warp[kThreads / 32];
  float shuffle[kThreads];
  std::vector<F4> smem;
};

inline thread_local Dim3 threadIdx, blockIdx, gridDim;
inline thread_local Block* current_block = nullptr;
inline std::mutex atomic_mutex;

inline float* shared_memory() { return reinterpret_cast<float*>(current_block->smem.data()); }
inline void sync_threads() { current_block->cta.wait(); }
inline float shfl_xor(float v, int lane_mask) {
  Block& b = *current_block;
  const int t = int(threadIdx.x);
  b.shuffle[t] = v;
  b.warp[t / 32].wait();
  const float r = b.shuffle[(t & ~31) | ((t & 31) ^ lane_mask)];
  b.warp[t / 32].wait();
  return r;
}
inline void atomic_add(float* p, float v) {
  std::lock_guard<std::mutex> lock(atomic_mutex);
  *p += v;
}
inline void atomic_add(double* p, double v) {
  std::lock_guard<std::mutex> lock(atomic_mutex);
  *p += v;
}
template <typename T>
inline float to_float(T x) {
  return static_cast<float>(x);
}
template <typename T>
inline T from_float(float x) {
  return T(x);
}

// Runs the grid one CTA at a time; the CTA's 128 threads are real threads, so a missing
// barrier shows up as a wrong result. Shared memory is NaN-poisoned before every CTA.
template <typename F>
void launch(Dim3 grid, size_t smem_bytes, F&& body) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;
  Block block;
  block.cta.init(kThreads);
  for (auto& w : block.warp) w.init(32);
  block.smem.assign((smem_bytes + sizeof(F4) - 1) / sizeof(F4) + 1, F4{NAN, NAN, NAN, NAN});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      threadIdx = {unsigned(t), 0, 0};
      gridDim = grid;
      current_block = &block;
      for (unsigned z = 0; z < grid.z; ++z)
        for (unsigned y = 0; y < grid.y; ++y)
          for (unsigned x = 0; x < grid.x; ++x) {
            blockIdx = {x, y, z};
            body();
            block.cta.wait();
            if (t == 0) std::fill(block.smem.begin(), block.smem.end(), F4{NAN, NAN, NAN, NAN});
            block.cta.wait();
          }
    });
  for (auto& th : threads) th.join();
}
#define LQ_LAUNCH(kernel, grid, smem, stream, ...) launch(grid, smem, [&] { kernel(__VA_ARGS__); })
template <typename K>
void allow_shared_memory(K, size_t) {}

#else  // CUDA

using Dim3 = dim3;
using F4 = float4;
using U2 = uint2;
using Half = __half;
using BFloat16 = __nv_bfloat16;

__device__ __forceinline__ float* shared_memory() {
  extern __shared__ float4 smem_raw[];
  return reinterpret_cast<float*>(smem_raw);
}
__device__ __forceinline__ void sync_threads() { __syncthreads(); }
__device__ __forceinline__ float shfl_xor(float v, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, v, lane_mask);
}
__device__ __forceinline__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(double* p, double v) { atomicAdd(p, v); }
template <typename T>
__device__ __forceinline__ float to_float(T x);
template <>
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
template <>
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float(float x) { return x; }
template <>
__device__ __forceinline__ __half from_float(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float(float x) { return __float2bfloat16_rn(x); }

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("longqa attention CUDA kernel: ") + what + ": " +
                             cudaGetErrorString(e));
}
#define LQ_LAUNCH(kernel, grid, smem, stream, ...)                                         \
  do {                                                                                     \
    const Dim3 lq_grid = (grid);                                                           \
    if (lq_grid.x && lq_grid.y && lq_grid.z) {                                             \
      kernel<<<lq_grid, kThreads, (smem), static_cast<cudaStream_t>(stream)>>>(__VA_ARGS__); \
      check(cudaGetLastError(), #kernel);                                                  \
    }                                                                                      \
  } while (0)
template <typename K>
void allow_shared_memory(K kernel, size_t bytes) {
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)),
        "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
}

#endif

// ---- Tile helpers -----------------------------------------------------------------------

constexpr int kLdScore = kBlockN + 4;  // row stride of 64-wide score tiles in shared memory

template <typename T>
LQ_DEVICE const T* head_ptr(const Tensor4& t, int b, int h) {
  return static_cast<const T*>(t.ptr) + b * t.batch_stride + h * t.head_stride;
}

// a or b by value, field by field: a reference into the kernel's parameter struct would make
// nvcc copy the whole struct to local memory.
LQ_DEVICE Tensor4 pick(bool second, const Tensor4& a, const Tensor4& b) {
  Tensor4 r;
  r.ptr = second ? b.ptr : a.ptr;
  r.batch_stride = second ? b.batch_stride : a.batch_stride;
  r.head_stride = second ? b.head_stride : a.head_stride;
  r.row_stride = second ? b.row_stride : a.row_stride;
  return r;
}

// 4 consecutive elements (16- or 8-byte aligned: the binding guarantees it) as floats.
template <typename T>
LQ_DEVICE void load4(const T* src, float* f) {
  if constexpr (sizeof(T) == 4) {
    const F4 v = *reinterpret_cast<const F4*>(src);
    f[0] = v.x, f[1] = v.y, f[2] = v.z, f[3] = v.w;
  } else {
    const U2 raw = *reinterpret_cast<const U2*>(src);
    T e[4];
    memcpy(e, &raw, sizeof(raw));
#pragma unroll
    for (int x = 0; x < 4; ++x) f[x] = to_float(e[x]);
  }
}

template <typename T>
LQ_DEVICE void store4(T* dst, const float* f) {
  if constexpr (sizeof(T) == 4) {
    *reinterpret_cast<F4*>(dst) = F4{f[0], f[1], f[2], f[3]};
  } else {
    T e[4];
#pragma unroll
    for (int x = 0; x < 4; ++x) e[x] = from_float<T>(f[x]);
    U2 raw;
    memcpy(&raw, e, sizeof(raw));
    *reinterpret_cast<U2*>(dst) = raw;
  }
}

// Rows [r0, r0 + 64) of a (rows, D) matrix into shared [64][D+4] fp32, times `mul`; rows at
// or past r_end become zeros (so that 0 * them never makes a NaN).
template <typename T, int D>
LQ_DEVICE void load_tile(float* dst, const T* src, int64_t row_stride, int r0, int r_end,
                         float mul) {
  constexpr int C = D / 4;
  for (int idx = threadIdx.x; idx < kBlockN * C; idx += kThreads) {
    const int r = idx / C, c = (idx % C) * 4, row = r0 + r;
    float f[4] = {0.f, 0.f, 0.f, 0.f};
    if (row < r_end) {
      load4(src + row * row_stride + c, f);
#pragma unroll
      for (int x = 0; x < 4; ++x) f[x] *= mul;
    }
    *reinterpret_cast<F4*>(dst + r * (D + 4) + c) = F4{f[0], f[1], f[2], f[3]};
  }
}

// acc[r][c] = A[ty*4+r] . Bm[tx+8c] over D, both shared [64][D+4].
template <int D>
LQ_DEVICE void dot_tile(const float* A, const float* Bm, float (&acc)[4][8]) {
  constexpr int LD = D + 4;
  const int ty = threadIdx.x / 8, tx = threadIdx.x % 8;
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int c = 0; c < 8; ++c) acc[r][c] = 0.f;
#pragma unroll 2
  for (int d = 0; d < D; d += 4) {
    F4 a[4], b[8];
#pragma unroll
    for (int r = 0; r < 4; ++r) a[r] = *reinterpret_cast<const F4*>(A + (ty * 4 + r) * LD + d);
#pragma unroll
    for (int c = 0; c < 8; ++c) b[c] = *reinterpret_cast<const F4*>(Bm + (tx + 8 * c) * LD + d);
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
      for (int c = 0; c < 8; ++c) {
        float s = acc[r][c];
        s = fmaf(a[r].x, b[c].x, s);
        s = fmaf(a[r].y, b[c].y, s);
        s = fmaf(a[r].z, b[c].z, s);
        s = fmaf(a[r].w, b[c].w, s);
        acc[r][c] = s;
      }
  }
}

LQ_DEVICE float component(const F4& v, int e) { return e == 0 ? v.x : e == 1 ? v.y : e == 2 ? v.z : v.w; }

// acc[r][h*4+e] += sum_j P[ty*4+r][j] * M[j][h*32 + tx*4 + e]; P shared [64][68], M [64][D+4].
template <int D>
LQ_DEVICE void pv_tile(const float* P, const float* M, float (&acc)[4][D / 8]) {
  constexpr int LD = D + 4;
  const int ty = threadIdx.x / 8, tx = threadIdx.x % 8;
#pragma unroll 2
  for (int j = 0; j < kBlockN; j += 4) {
    F4 p[4];
#pragma unroll
    for (int r = 0; r < 4; ++r) p[r] = *reinterpret_cast<const F4*>(P + (ty * 4 + r) * kLdScore + j);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float* row = M + (j + e) * LD + tx * 4;
#pragma unroll
      for (int h = 0; h < D / 32; ++h) {
        const F4 m = *reinterpret_cast<const F4*>(row + h * 32);
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const float pe = component(p[r], e);
          acc[r][h * 4 + 0] = fmaf(pe, m.x, acc[r][h * 4 + 0]);
          acc[r][h * 4 + 1] = fmaf(pe, m.y, acc[r][h * 4 + 1]);
          acc[r][h * 4 + 2] = fmaf(pe, m.z, acc[r][h * 4 + 2]);
          acc[r][h * 4 + 3] = fmaf(pe, m.w, acc[r][h * 4 + 3]);
        }
      }
    }
  }
}

// Max / sum over the 8 lanes that share a row.
LQ_DEVICE float row_max(float x) {
  x = fmaxf(x, shfl_xor(x, 1));
  x = fmaxf(x, shfl_xor(x, 2));
  return fmaxf(x, shfl_xor(x, 4));
}
LQ_DEVICE float row_sum(float x) {
  x += shfl_xor(x, 1);
  x += shfl_xor(x, 2);
  return x + shfl_xor(x, 4);
}

// Per-head bias constants in log2 units.
struct Bias2 {
  float alpha = 0.f, beta = 0.f, gamma = 0.f, packed = 0.f;
};
LQ_DEVICE Bias2 head_bias(const AttentionParams& p, int h) {
  Bias2 b;
  if (p.kind != Kind::usw) return b;
  b.alpha = p.alpha[h] * kLog2e;
  b.beta = p.beta[h] * kLog2e;
  b.gamma = p.gamma[h] * kLog2e;
  b.packed = (p.beta[h] + p.gamma[h]) * 0.5f * float(p.block_size) * kLog2e;
  return b;
}

// Logit of (query i, key j) in log2 units given its raw scaled dot product, or -inf where the
// key is not seen. key_ok covers range and key padding; query padding is handled by callers.
LQ_DEVICE float biased_logit(float dot, const AttentionParams& p, const Bias2& bias, bool packed,
                             bool key_ok, int i, int j) {
  if (!key_ok) return -INFINITY;
  if (packed) return dot - bias.packed;
  if (p.kind == Kind::pack) return dot;
  if (!usw_token_allowed(i, j, p.block_size)) return -INFINITY;
  return dot - bialibi(i, j, bias.alpha, bias.beta, bias.gamma);
}

// The key ranges of the query tile [i0, i1) (usw), or of key split `split` (pack).
LQ_DEVICE int tile_key_ranges(const AttentionParams& p, int i0, int i1, int split, KeyRange* r) {
  if (p.kind == Kind::usw) return usw_key_ranges(i0, i1, p.n, p.s, p.block_size, r);
  const int begin = split * p.key_chunk, end = imin(begin + p.key_chunk, p.n);
  r[0] = {begin, end, false};
  return begin < end ? 1 : 0;
}

LQ_DEVICE bool key_valid(const uint8_t* valid, bool packed, int j, int j1) {
  return j < j1 && (packed || valid[j] != 0);
}

// ---- Forward ----------------------------------------------------------------------------

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
  const int h = blockIdx.y, bz = blockIdx.z;
  const bool usw = p.kind == Kind::usw;
  const int nq = usw ? p.n : p.s;
  const int qtile = usw ? int(blockIdx.x) : int(blockIdx.x) / p.key_splits;
  const int split = usw ? 0 : int(blockIdx.x) % p.key_splits;
  const int i0 = qtile * kBlockM, i1 = imin(i0 + kBlockM, nq);
  const uint8_t* valid = p.valid + bz * p.valid_stride;

  bool row_ok[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int i = i0 + ty * 4 + r;
    row_ok[r] = i < i1 && (!usw || valid[i] != 0);
  }
  bool any_row = !usw;  // same answer in every thread, so the branch below is uniform
  for (int i = i0; usw && i < i1 && !any_row; ++i) any_row = valid[i] != 0;

  float m[4], l[4], acc[4][D / 8];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
#pragma unroll
    for (int x = 0; x < D / 8; ++x) acc[r][x] = 0.f;
  }

  if (any_row) {
    load_tile<T, D>(Qs, head_ptr<T>(p.q, bz, h), p.q.row_stride, i0, i1, p.scale * kLog2e);
    const Bias2 bias = head_bias(p, h);
    KeyRange ranges[3];
    const int nr = tile_key_ranges(p, i0, i1, split, ranges);
    for (int ri = 0; ri < nr; ++ri) {
      const KeyRange rg = ranges[ri];
      const Tensor4 kt = pick(rg.packed, p.k, p.packed_k);
      const Tensor4 vt = pick(rg.packed, p.v, p.packed_v);
      const T* ks = head_ptr<T>(kt, bz, h);
      const T* vs = head_ptr<T>(vt, bz, h);
      for (int j0 = rg.begin; j0 < rg.end; j0 += kBlockN) {
        const int j1 = imin(j0 + kBlockN, rg.end);
        sync_threads();  // the previous tile is no longer read
        load_tile<T, D>(Ks, ks, kt.row_stride, j0, j1, 1.f);
        load_tile<T, D>(Vs, vs, vt.row_stride, j0, j1, 1.f);
        sync_threads();

        float sc[4][8];
        dot_tile<D>(Qs, Ks, sc);
        bool key_ok[8];
#pragma unroll
        for (int c = 0; c < 8; ++c) key_ok[c] = key_valid(valid, rg.packed, j0 + tx + 8 * c, j1);
#pragma unroll
        for (int r = 0; r < 4; ++r)
#pragma unroll
          for (int c = 0; c < 8; ++c)
            sc[r][c] = row_ok[r] ? biased_logit(sc[r][c], p, bias, rg.packed, key_ok[c],
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
      }
    }
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

// ---- Backward ---------------------------------------------------------------------------

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
  const int h = blockIdx.y, bz = blockIdx.z;
  const bool usw = p.kind == Kind::usw;
  const int nq = usw ? p.n : p.s;
  const int qtile = usw ? int(blockIdx.x) : int(blockIdx.x) / p.key_splits;
  const int split = usw ? 0 : int(blockIdx.x) % p.key_splits;
  const int i0 = qtile * kBlockM, i1 = imin(i0 + kBlockM, nq);
  const uint8_t* valid = p.valid + bz * p.valid_stride;

  bool any_row = !usw;
  for (int i = i0; usw && i < i1 && !any_row; ++i) any_row = valid[i] != 0;
  if (!any_row) return;  // padded rows: no gradient anywhere (uniform exit)

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

  KeyRange ranges[3];
  const int nr = tile_key_ranges(p, i0, i1, split, ranges);
  for (int ri = 0; ri < nr; ++ri) {
    const KeyRange rg = ranges[ri];
    const Tensor4 kt = pick(rg.packed, p.k, p.packed_k);
    const Tensor4 vt = pick(rg.packed, p.v, p.packed_v);
    for (int j0 = rg.begin; j0 < rg.end; j0 += kBlockN) {
      const int j1 = imin(j0 + kBlockN, rg.end);
      sync_threads();
      load_tile<T, D>(Ks, head_ptr<T>(kt, bz, h), kt.row_stride, j0, j1, 1.f);
      load_tile<T, D>(Vs, head_ptr<T>(vt, bz, h), vt.row_stride, j0, j1, 1.f);
      sync_threads();

      float sc[4][8], dp[4][8];
      dot_tile<D>(Qs, Ks, sc);
      dot_tile<D>(dOs, Vs, dp);
      bool key_ok[8];
#pragma unroll
      for (int c = 0; c < 8; ++c) key_ok[c] = key_valid(valid, rg.packed, j0 + tx + 8 * c, j1);
      float ga = 0.f, gb = 0.f, gg = 0.f;
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int i = i0 + ty * 4 + r;
#pragma unroll
        for (int c = 0; c < 8; ++c) {
          const int j = j0 + tx + 8 * c;
          const float logit = biased_logit(sc[r][c], p, bias, rg.packed, key_ok[c], i, j);
          const float prob = exp2f(logit - lse[r]);
          const float ds = prob * (dp[r][c] - delta[r]);
          dSs[(ty * 4 + r) * kLdScore + tx + 8 * c] = ds;
          if (usw && ds != 0.f) {
            if (rg.packed) {
              gb += ds * half_b;
              gg += ds * half_b;
            } else if (i != j) {
              if (i == 0 || j == 0) ga += ds;
              else if (i > j) gb += ds * float(i - j);
              else gg += ds * float(j - i);
            }
          }
        }
      }
      g_alpha += ga, g_beta += gb, g_gamma += gg;
      sync_threads();
      pv_tile<D>(dSs, Ks, dq);
    }
  }

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

template <template <typename, int> class F, typename P>
void dispatch(const P& p, void* stream) {
  if (!supported_head_dim(p.dh))
    throw std::runtime_error("longqa attention kernel: head dim " + std::to_string(p.dh) +
                             " is not compiled (32, 64 or 128)");
  auto by_dim = [&](auto tag) {
    using T = decltype(tag);
    if (p.dh == 32) F<T, 32>::run(p, stream);
    else if (p.dh == 64) F<T, 64>::run(p, stream);
    else F<T, 128>::run(p, stream);
  };
  switch (p.dtype) {
    case DType::f32: by_dim(float{}); break;
    case DType::f16: by_dim(Half{}); break;
    case DType::bf16: by_dim(BFloat16{}); break;
  }
}

template <typename T, int D>
struct Forward {
  static void run(const AttentionParams& p, void* stream) { forward_typed<T, D>(p, stream); }
};
template <typename T, int D>
struct Backward {
  static void run(const BackwardParams& p, void* stream) { backward_typed<T, D>(p, stream); }
};

}  // namespace

void attention_forward(const AttentionParams& p, void* stream) { dispatch<Forward>(p, stream); }
void attention_backward(const BackwardParams& p, void* stream) { dispatch<Backward>(p, stream); }

}  // namespace longqa::attention::kernels::LONGQA_BACKEND
