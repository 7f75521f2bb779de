// What the fused LittleBird attention kernels share (usw_attention_forward.cu,
// usw_attention_backward.cu): the backend layer (the few CUDA primitives they use), the tile
// helpers, the bias and masks, and the dispatch on dtype and head dim. fp32 accumulation.
//
// Thread layout of a 64x64 score tile (128 threads): thread (ty = t/8, tx = t%8) owns rows
// ty*4 + r (r < 4) and columns tx + 8c (c < 8); a row lives in 8 consecutive lanes, so row
// max/sum are 3 xor-shuffles. Accumulators over dh own rows ty*4 + r and columns
// h*32 + tx*4 + e (e < 4). Shared tiles are fp32 [64][dh+4], which keeps the float4 reads of
// both products conflict-free. Plain FMA code: correct and simple first; tensor cores (mma)
// are the next step once it runs on the GPU.
//
// Built two ways: by nvcc for the device, and, with LONGQA_CUDA_EMULATION, as plain C++ in the
// test binary against cuda_emulation.h, where every CTA runs as 128 std::threads with real
// barriers (tests on CPUs). The kernels then live in namespace kernels::emu, else kernels::cuda.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "usw_attention_cuda.h"

#if defined(LONGQA_CUDA_EMULATION)
#include "cuda_emulation.h"
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

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

#if !defined(LONGQA_CUDA_EMULATION)
// ---- Backend layer: the few CUDA primitives the kernels use (cuda_emulation.h on CPUs) ----

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

inline void check(cudaError_t e, const char* what) {
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
  return dot - bialibi(i, j, bias.alpha, bias.beta, bias.gamma, p.max_distance);
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

// The query tile of a forward or dQ CTA: usw, query tile blockIdx.x; pack, query tile
// blockIdx.x / key_splits and key split blockIdx.x % key_splits. any_row: some query of the
// tile is valid, the same answer in every thread (so that branches on it are uniform).
struct QueryTile {
  int h, bz, nq, split, i0, i1;
  bool usw, any_row;
  const uint8_t* valid;  // the batch row's token mask
};
LQ_DEVICE QueryTile query_tile(const AttentionParams& p) {
  QueryTile q;
  q.h = blockIdx.y, q.bz = blockIdx.z;
  q.usw = p.kind == Kind::usw;
  q.nq = q.usw ? p.n : p.s;
  const int qtile = q.usw ? int(blockIdx.x) : int(blockIdx.x) / p.key_splits;
  q.split = q.usw ? 0 : int(blockIdx.x) % p.key_splits;
  q.i0 = qtile * kBlockM, q.i1 = imin(q.i0 + kBlockM, q.nq);
  q.valid = p.valid + q.bz * p.valid_stride;
  q.any_row = !q.usw;
  for (int i = q.i0; q.usw && i < q.i1 && !q.any_row; ++i) q.any_row = q.valid[i] != 0;
  return q;
}

// Streams the key tiles of a query tile (forward, dQ): for each of its key ranges, loads K and V
// rows [j0, j0 + kBlockN) into the shared Ks and Vs (between barriers; rows past the range are
// zeros), then runs body(packed, j0, key_ok), key_ok[c] telling whether this thread's key column
// j0 + tx + 8c exists (in the range, not padding).
template <typename T, int D, typename Body>
LQ_DEVICE void for_each_key_tile(const AttentionParams& p, const QueryTile& tile, float* Ks, float* Vs,
                                 Body&& body) {
  const int tx = threadIdx.x % 8;
  KeyRange ranges[3];
  const int nr = tile_key_ranges(p, tile.i0, tile.i1, tile.split, ranges);
  for (int ri = 0; ri < nr; ++ri) {
    const KeyRange rg = ranges[ri];
    const Tensor4 kt = pick(rg.packed, p.k, p.packed_k);
    const Tensor4 vt = pick(rg.packed, p.v, p.packed_v);
    const T* ks = head_ptr<T>(kt, tile.bz, tile.h);
    const T* vs = head_ptr<T>(vt, tile.bz, tile.h);
    for (int j0 = rg.begin; j0 < rg.end; j0 += kBlockN) {
      const int j1 = imin(j0 + kBlockN, rg.end);
      sync_threads();  // the previous tile is no longer read
      load_tile<T, D>(Ks, ks, kt.row_stride, j0, j1, 1.f);
      load_tile<T, D>(Vs, vs, vt.row_stride, j0, j1, 1.f);
      sync_threads();
      bool key_ok[8];
#pragma unroll
      for (int c = 0; c < 8; ++c) key_ok[c] = key_valid(tile.valid, rg.packed, j0 + tx + 8 * c, j1);
      body(rg.packed, j0, key_ok);
    }
  }
}

// ---- Host side --------------------------------------------------------------------------

// Runs F<T, D>::run(p, stream) for p's dtype and head dim.
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

}  // namespace longqa::attention::kernels::LONGQA_BACKEND
