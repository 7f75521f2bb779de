// The model's entry point: picks the USWAttn implementation for the tensors' device.
#include <ATen/ATen.h>

#include "longqa/attention.h"

namespace longqa::attention {

at::Tensor usw_attention(const UswInputs& in) {
  // Fused CUDA kernel (research/littlebird.md §0.4 item 2) goes here, for in.q.is_cuda().
  return usw_attention_blocked(in);
}

}  // namespace longqa::attention
