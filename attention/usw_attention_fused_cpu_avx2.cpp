// The fused CPU USWAttn kernel built for AVX2 (compiler flags in attention/CMakeLists.txt).
#define LONGQA_FUSED_NAMESPACE avx2
#include "usw_attention_fused_cpu_kernel.h"
