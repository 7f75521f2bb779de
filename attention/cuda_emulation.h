// A CPU emulation of the few CUDA primitives the fused attention kernels use, so that the same
// kernel source compiles as plain C++ (LONGQA_CUDA_EMULATION; see usw_attention_cuda_common.cuh)
// and the tests run it on machines without a GPU. Every CTA's kThreads threads are real
// std::threads with real barriers and warp shuffles, so a missing barrier shows up as a wrong
// result; the grid runs one CTA at a time. Tests only.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "usw_attention_cuda.h"

namespace longqa::attention::kernels::emu {

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

}  // namespace longqa::attention::kernels::emu
