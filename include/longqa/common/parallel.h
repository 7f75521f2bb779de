// Work split over OpenMP threads — the same libgomp pool libtorch's own operators use, so
// that our CPU kernels and BLAS calls never compete with a second set of threads.
#pragma once
#include <cstdint>
#include <functional>

namespace longqa {

// Calls body(first, last) on `threads` threads for contiguous ranges covering [0, tasks)
// (in order, one range each; fewer when tasks < threads). Runs inline when threads <= 1 or
// when already inside a parallel region. An exception thrown by body is rethrown here (the
// first, if several threads throw).
void parallel_ranges(int64_t tasks, int threads, const std::function<void(int64_t first, int64_t last)>& body);

}  // namespace longqa
