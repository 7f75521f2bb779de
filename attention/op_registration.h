// The longqa:: torch operators (op_registration.cpp): usw_attention and pack_attention run
// the blocked/ATen versions on the CPU and the fused kernels on CUDA, picked by the
// dispatcher from the tensors' device, with autograd on both.
#pragma once
#include <ATen/core/Tensor.h>

#include "longqa/attention.h"

namespace longqa::attention {

// Calls longqa::usw_attention / longqa::pack_attention through the dispatcher. Referencing
// these from dispatch.cpp also keeps op_registration.o (and so the TORCH_LIBRARY static
// initialisers) in every binary that links the static library.
at::Tensor usw_attention_op(const UswInputs& in);
at::Tensor pack_attention_op(const at::Tensor& packed_q, const at::Tensor& k, const at::Tensor& v,
                             const at::Tensor& valid);

namespace detail {
// Pack attention in plain ATen ops (the CPU kernel and the CUDA fallback).
at::Tensor pack_attention_aten(const at::Tensor& packed_q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& valid);
}  // namespace detail

// True when this build has the CUDA kernels (LONGQA_CUDA).
bool cuda_kernels_built();

}  // namespace longqa::attention
