#include "longqa/threads.h"

#include <ATen/Parallel.h>

#include <stdexcept>
#include <string>

namespace longqa {

void set_compute_threads(int n) {
  if (n < 0) throw std::invalid_argument("compute threads must be >= 0 (0 = libtorch's default), not " + std::to_string(n));
  if (n > 0) at::set_num_threads(n);
}

int compute_threads() { return at::get_num_threads(); }

}  // namespace longqa
