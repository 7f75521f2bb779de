// AdamW (decoupled weight decay) over named parameters, with its state as named
// tensors so that a checkpoint is one safetensors file and a resume is exact.
// Private to training/.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "longqa/qa_model.h"

namespace longqa {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
};

class AdamW {
 public:
  // Parameters with requires_grad; names decide weight decay (none for biases,
  // LayerNorm weights and the BiALiBi scalars).
  AdamW(NamedTensors* params, AdamWOptions options);

  void step(double learning_rate);  // one update from the current .grad()s
  void zero_grad();
  // Scales gradients so their global L2 norm is at most max_norm; returns the norm before.
  double clip_grad_norm(double max_norm);

  int64_t steps() const { return steps_; }
  // exp_avg.<name>, exp_avg_sq.<name>; the step count travels separately.
  NamedTensors state() const;
  void load_state(const NamedTensors& state, int64_t steps);

 private:
  static bool decays(const std::string& name);
  NamedTensors* params_;
  AdamWOptions options_;
  NamedTensors exp_avg_, exp_avg_sq_;
  int64_t steps_ = 0;
};

}  // namespace longqa
