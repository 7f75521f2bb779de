// Built with -fopenmp (common/CMakeLists.txt). At run time libgomp is the copy libtorch loads:
// at::parallel_for is a header template whose `omp parallel` exists only in code compiled with
// -fopenmp, which torch's flags do not add, so our own parallel loops go through here.
#include "longqa/common/parallel.h"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <mutex>

namespace longqa {

void parallel_ranges(int64_t tasks, int threads, const std::function<void(int64_t, int64_t)>& body) {
  if (tasks <= 0) return;
  if (threads <= 1 || tasks == 1 || omp_in_parallel()) {
    body(0, tasks);
    return;
  }
  const int used = static_cast<int>(std::min<int64_t>(threads, tasks));
  // An exception may not leave an OpenMP region (that terminates the process): the first one
  // thrown is carried out and rethrown here.
  std::exception_ptr failure;
  std::mutex failure_mutex;
#pragma omp parallel num_threads(used)
  {
    const int64_t count = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t first = tasks * id / count, last = tasks * (id + 1) / count;
    try {
      if (first < last) body(first, last);
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace longqa
