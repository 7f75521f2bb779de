// How many CPU threads one tensor operation may use (libtorch's intra-op pool).
//
// This is a process-wide setting: it applies to every Reader, TextEncoder, trainer and
// retriever in the process, so no library class changes it. The application owns it and
// calls set_compute_threads itself, once, before the first model runs (the `longqa`
// commands do so for --threads, `longqa serve` for reader_threads).
#pragma once

namespace longqa {

// n > 0: operations use n threads; n == 0: libtorch's default is kept (one per core).
// Throws std::invalid_argument when n < 0.
void set_compute_threads(int n);

// The number of threads an operation uses now.
int compute_threads();

}  // namespace longqa
