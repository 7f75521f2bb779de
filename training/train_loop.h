// The training loop every trainer shares: AdamW with linear warmup and decay, gradient
// accumulation and clipping, a progress line, periodic checkpoints (weights, optimizer
// state, step) written atomically, exact resume, periodic evaluation.
// Private to training/.
#pragma once
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "longqa/training/reader_trainer.h"

namespace longqa {

// Autocast to bf16 on CUDA for the forward pass, off again afterwards.
class CudaAutocast {
 public:
  explicit CudaAutocast(bool on) : on_(on) {
    if (!on_) return;
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
  }
  ~CudaAutocast() {
    if (!on_) return;
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    at::autocast::clear_cache();
  }

 private:
  bool on_;
};

struct TrainLoopHooks {
  // Loss of micro-batch `index` (step * grad_accum + micro) and the tokens it covered.
  // The stream of micro-batches must be a pure function of the index (for exact resume).
  std::function<std::pair<at::Tensor, int64_t>(int64_t index)> micro_batch_loss;
  // Writes the trained model (weights, config, tokenizer files) into a directory.
  std::function<void(const std::string& dir)> save_model;
  // Copies the weights saved by save_model in `dir` into the live parameters.
  std::function<void(const std::string& dir)> load_weights;
  // Optional evaluation: metric name -> value.
  std::function<std::map<std::string, double>()> evaluate;
};

// The sample stream of a trainer: epoch e visits items 0..n-1 in a permutation fixed by
// (seed, e), so sample i is the same with or without a resume in between.
class EpochShuffle {
 public:
  EpochShuffle(int64_t n, uint64_t seed) : n_(n), seed_(seed), order_(static_cast<size_t>(n)) {}
  int64_t operator()(int64_t i);  // the item at stream position i
  int64_t size() const { return n_; }

 private:
  int64_t n_;
  uint64_t seed_;
  int64_t epoch_ = -1;
  std::vector<int64_t> order_;
};

// Optimizer steps for `epochs` passes over n items, per_step items a step (or max_steps).
int64_t total_train_steps(const TrainerOptions& options, int64_t n, int64_t per_step);

// Distillation losses, shared by DistillTrainer and ReaderTrainer's teacher:
// Layer-by-layer hidden-state error: student layer l (1-based) against teacher layer
// round(l * T / S); squared error per hidden unit over the real tokens, mean over layers.
at::Tensor hidden_state_loss(const std::vector<at::Tensor>& student_layers, const std::vector<at::Tensor>& teacher_layers,
                             const at::Tensor& valid);
// KL(teacher || student) of the softmax over positions at `temperature`, times temperature²
// (Hinton et al.), mean over the batch; padding (logits -inf) is left out.
at::Tensor position_kl_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits, const at::Tensor& valid,
                            double temperature);

// Runs `total_steps` optimizer steps over `params` (which must require grad).
// `fingerprint` (e.g. the number of training windows) must match on resume.
TrainResult run_train_loop(NamedTensors& params, const TrainerOptions& options, int64_t total_steps,
                           int64_t fingerprint, const TrainLoopHooks& hooks);

}  // namespace longqa
