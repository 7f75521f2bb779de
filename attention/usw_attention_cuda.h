// Fused CUDA kernels for LittleBird attention (research/littlebird.md §0.4 item 2): USWAttn
// (packed keys + key block 0 + the blocked window, one joint online softmax, BiALiBi in
// registers) and pack attention, forward and FA2-style backward.
//
// Torch-free on purpose (FlashAttention's csrc/ model): the binding validates tensors and fills
// these plain structs; the kernels see pointers, strides and sizes only. The same kernel source
// also compiles as plain C++ against a CPU emulation of the CUDA thread model
// (LONGQA_CUDA_EMULATION, see cuda_emulation.h), which lets the tests run the kernels on a
// machine without a GPU. Kernels: usw_attention_forward.cu, usw_attention_backward.cu, and what
// they share, usw_attention_cuda_common.cuh.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define LONGQA_HD __host__ __device__ __forceinline__
#else
#define LONGQA_HD inline
#endif

namespace longqa::attention::kernels {

enum class DType : int { f32, f16, bf16 };
// usw: queries are the n tokens; keys are the s packed keys, key block 0 and the window.
// pack: queries are the s packed positions; keys are the n tokens (valid ones), no bias.
enum class Kind : int { usw, pack };

// Tile sizes shared by the kernels and the host-side grid arithmetic.
inline constexpr int kBlockM = 64;    // query rows per tile
inline constexpr int kBlockN = 64;    // key rows per tile
inline constexpr int kThreads = 128;  // threads per CTA

// A (B,H,rows,dh) tensor with unit stride on dh. Strides in elements.
struct Tensor4 {
  const void* ptr = nullptr;
  int64_t batch_stride = 0, head_stride = 0, row_stride = 0;
};

struct AttentionParams {
  Kind kind = Kind::usw;
  DType dtype = DType::f32;
  int B = 0, H = 0, n = 0, s = 0, dh = 0;
  int block_size = 64;  // usw only
  int max_distance = 0;  // usw only: BiALiBi's distance cap, 0 = none
  float scale = 1.f;    // 1/sqrt(dh)

  Tensor4 q;                // usw: (B,H,n,dh) tokens; pack: (B,H,s,dh) packed queries
  Tensor4 k, v;             // (B,H,n,dh) token keys / values
  Tensor4 packed_k, packed_v;  // (B,H,s,dh), usw only
  const uint8_t* valid = nullptr;  // (B,n) 0/1, row stride valid_stride, unit column stride
  int64_t valid_stride = 0;
  const float* alpha = nullptr;  // (H) fp32, usw only
  const float* beta = nullptr;
  const float* gamma = nullptr;

  // Forward outputs. usw: out (B,H,n,dh) in dtype and lse (B,H,n) fp32, both contiguous.
  // pack: per key split, out_partial (nsplit,B,H,s,dh) fp32 and lse_partial (nsplit,B,H,s),
  // merged into out/lse by a second kernel. lse is in log2 units, +inf on rows with no keys
  // (padded queries), so that the backward's exp2(S - lse) is 0 there.
  void* out = nullptr;
  float* lse = nullptr;
  float* out_partial = nullptr;
  float* lse_partial = nullptr;
  int key_chunk = 0;  // pack: token keys per split (multiple of kBlockN)
  int key_splits = 1;
};

struct BackwardParams : AttentionParams {
  Tensor4 dout;          // (B,H,rows,dh), same layout rules as the inputs
  float* delta = nullptr;  // (B,H,rows) fp32 scratch: rowsum(dout * out)
  // fp32 accumulators, contiguous, zero-filled by the caller (atomics add into them).
  float* dq = nullptr;   // like q
  float* dk = nullptr;   // (B,H,n,dh)
  float* dv = nullptr;
  float* dpk = nullptr;  // (B,H,s,dh), usw only
  float* dpv = nullptr;
  double* dbias = nullptr;  // (H,3): d alpha, d beta, d gamma, usw only
  // dK/dV of keys seen by every query (packed keys, key block 0; all keys in pack mode) are
  // summed over query chunks of this many rows (multiple of kBlockM), one CTA each.
  int query_chunk = 1024;
};

// ---- Geometry shared by host and device -------------------------------------------------

LONGQA_HD int ceil_div(int a, int b) { return (a + b - 1) / b; }
LONGQA_HD int imin(int a, int b) { return a < b ? a : b; }
LONGQA_HD int imax(int a, int b) { return a > b ? a : b; }

struct KeyRange {
  int begin = 0, end = 0;
  bool packed = false;
};

// Disjoint key ranges that cover every key a usw query in rows [i0, i1) may see: the packed
// keys, key block 0, and the window blocks of the tile's first to last query block minus
// block 0 (so each key is visited once). Per element, usw_token_allowed() decides.
LONGQA_HD int usw_key_ranges(int i0, int i1, int n, int s, int b, KeyRange* out) {
  int count = 0;
  if (s > 0) out[count++] = {0, s, true};
  out[count++] = {0, imin(b, n), false};
  const int lo = imax((i0 / b - 1) * b, b);
  const int hi = imin(((i1 - 1) / b + 2) * b, n);
  if (lo < hi) out[count++] = {lo, hi, false};
  return count;
}

// Token key j is in query i's window set {0, qb-1, qb, qb+1}.
LONGQA_HD bool usw_token_allowed(int i, int j, int b) {
  const int kb = j / b, qb = i / b;
  return kb == 0 || (kb - qb <= 1 && qb - kb <= 1);
}

// |i - j|, capped at max_distance when that is > 0.
LONGQA_HD int bialibi_distance(int i, int j, int max_distance) {
  const int d = i > j ? i - j : j - i;
  return max_distance > 0 && d > max_distance ? max_distance : d;
}

// BiALiBi D[i,j] (subtracted from the logit).
LONGQA_HD float bialibi(int i, int j, float alpha, float beta, float gamma, int max_distance) {
  if (i == j) return 0.f;
  if (i == 0 || j == 0) return alpha;
  return (i > j ? beta : gamma) * float(bialibi_distance(i, j, max_distance));
}

// Query rows [begin, end) that may see some token key of the tile [j0, j1): all of them if
// the tile holds a key of block 0, else the query blocks next to the tile's key blocks.
LONGQA_HD void usw_tile_queries(int j0, int j1, int n, int b, int* begin, int* end) {
  if (j0 < b) {
    *begin = 0;
    *end = n;
    return;
  }
  *begin = imax((j0 / b - 1) * b, 0);
  *end = imin(((j1 - 1) / b + 2) * b, n);
}

// dK/dV work items: "window" token tiles (one CTA each) then "global" tiles (packed tiles and
// token tiles holding block 0) times query chunks. pack mode: every token tile is global.
struct KeyWork {
  int window_tiles = 0, global_tiles = 0, chunks = 1;
  LONGQA_HD int total() const { return window_tiles + global_tiles * chunks; }
};

// Token tiles [0, block0_tiles) hold a key of block 0 (seen by every query).
LONGQA_HD int usw_block0_tiles(int n, int b) { return imin(ceil_div(b, kBlockN), ceil_div(n, kBlockN)); }

LONGQA_HD KeyWork key_work(Kind kind, int n, int s, int b, int query_chunk) {
  KeyWork w;
  const int token_tiles = ceil_div(n, kBlockN);
  if (kind == Kind::pack) {
    w.global_tiles = token_tiles;
    w.chunks = ceil_div(s, query_chunk);
  } else {
    const int block0_tiles = usw_block0_tiles(n, b);
    w.window_tiles = token_tiles - block0_tiles;
    w.global_tiles = block0_tiles + ceil_div(s, kBlockN);
    w.chunks = ceil_div(n, query_chunk);
  }
  return w;
}

// ---- Launchers --------------------------------------------------------------------------
// `stream` is a cudaStream_t (void* keeps CUDA headers out of this header). They throw
// std::runtime_error on a launch error or an unsupported dh (32, 64, 128 are compiled).

inline bool supported_head_dim(int dh) { return dh == 32 || dh == 64 || dh == 128; }

namespace cuda {
void attention_forward(const AttentionParams& p, void* stream);
void attention_backward(const BackwardParams& p, void* stream);
}  // namespace cuda

// The same kernels run by the CPU emulation of the CUDA thread model (tests only; defined
// where usw_attention_forward.cu / usw_attention_backward.cu are compiled with
// LONGQA_CUDA_EMULATION).
namespace emu {
void attention_forward(const AttentionParams& p, void* stream);
void attention_backward(const BackwardParams& p, void* stream);
}  // namespace emu

}  // namespace longqa::attention::kernels
