// The model's entry point: picks the USWAttn implementation for the tensors' device.
#include <ATen/ATen.h>

#include "longqa/attention.h"
#include "op_registration.h"

namespace longqa::attention {

at::Tensor usw_attention(const UswInputs& in) {
  // Through the longqa::usw_attention operator: the dispatcher runs the fused CUDA kernel for
  // CUDA tensors (research/littlebird.md §0.4 item 2) and the blocked version on the CPU, with
  // autograd on both (op_registration.cpp). Referencing op_registration.cpp from here also
  // keeps its TORCH_LIBRARY registration in every binary that links the static library.
  return usw_attention_op(in);
}

}  // namespace longqa::attention
