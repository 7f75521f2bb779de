// The fused CPU USWAttn kernel built for AVX512 (compiler flags in attention/CMakeLists.txt).
#define LONGQA_FUSED_NAMESPACE avx512
#include "usw_attention_fused_cpu_kernel.h"
