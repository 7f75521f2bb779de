// The fused kernel's tasks over the intra-op threads. OpenMP here, in a file built with
// -fopenmp: at::parallel_for is a header template whose `omp parallel` only exists in code
// compiled with -fopenmp, which torch's flags do not add. libgomp is the one torch loads.
#include <omp.h>

#include "usw_attention_fused_cpu.h"

namespace longqa::attention::fused_cpu {

void run_parallel(Kernel kernel, const Problem& problem, int64_t tasks, int threads) {
  if (threads <= 1 || tasks <= 1 || omp_in_parallel()) {
    kernel(problem, 0, tasks);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    // Contiguous ranges: neighbouring query blocks share key blocks in cache.
    const int64_t count = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t first = tasks * id / count, last = tasks * (id + 1) / count;
    if (first < last) kernel(problem, first, last);
  }
}

}  // namespace longqa::attention::fused_cpu
