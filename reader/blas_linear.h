// y = x W^T + b for inference on the CPU through OpenBLAS's sgemm (Debian's libopenblas, the
// BLAS FAISS already uses). On this AMD CPU it is 1.0-2.1x the MKL sgemm that at::linear calls
// (bench/results/linear_cpu.json); everything else — autograd, other dtypes and devices —
// goes to at::linear, and a weight quantized for int8 to int8_linear (int8_linear.h).
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

namespace longqa::layers {

at::Tensor fast_linear(const at::Tensor& x, const at::Tensor& weight, const c10::optional<at::Tensor>& bias);

}  // namespace longqa::layers
