// int8 dynamic quantization of linear layers on the CPU (ReaderOptions::dtype "int8"): weights
// quantized once per output channel (symmetric, int8), activations quantized per call to uint8
// over blocks of rows, the product in int32 on the VNNI units through fbgemm/oneDNN
// (torch's quantized::linear ops), the result float32 again. Private to reader/.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

namespace longqa::layers {

// The weight (out, in) float quantized per output channel: scale max|row| / 127, zero point 0.
at::Tensor quantize_linear_weight(const at::Tensor& weight);

// Whether the model quantizes this float parameter for int8: a linear layer's 2-D weight with at
// least 64 outputs. Embedding tables stay float (they are looked up, not multiplied), and so do
// the QA heads' few outputs (negligible work, and their logits pick the answer).
bool is_quantizable_linear_weight(const std::string& name, const at::Tensor& t);

// y = x W^T + b for a weight from quantize_linear_weight, x and b float32; y float32.
// The packed form of each weight is made on first use and cached while the weight lives.
at::Tensor int8_linear(const at::Tensor& x, const at::Tensor& qweight, const c10::optional<at::Tensor>& bias);

}  // namespace longqa::layers
