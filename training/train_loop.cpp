#include "train_loop.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <random>

#include "adamw.h"
#include "longqa/common/progress.h"
#include "longqa/safetensors.h"

namespace fs = std::filesystem;

namespace longqa {
namespace {

int64_t checkpoint_step(const fs::path& path) {
  const std::string name = path.filename().string();
  if (name.rfind("checkpoint-", 0) != 0) return -1;
  try {
    return std::stoll(name.substr(11));
  } catch (const std::exception&) {
    return -1;
  }
}

// The newest complete checkpoint directory in out_dir, or "".
std::string newest_checkpoint(const std::string& out_dir) {
  std::string best;
  int64_t best_step = -1;
  if (!fs::is_directory(out_dir)) return best;
  for (const auto& entry : fs::directory_iterator(out_dir)) {
    const int64_t step = checkpoint_step(entry.path());
    if (step > best_step && fs::exists(entry.path() / "trainer_state.json")) best_step = step, best = entry.path().string();
  }
  return best;
}

}  // namespace

int64_t EpochShuffle::operator()(int64_t i) {
  const int64_t epoch = i / n_;
  if (epoch != epoch_) {
    std::iota(order_.begin(), order_.end(), 0);
    std::shuffle(order_.begin(), order_.end(), std::mt19937_64(seed_ + 1000003ULL * static_cast<uint64_t>(epoch)));
    epoch_ = epoch;
  }
  return order_[static_cast<size_t>(i % n_)];
}

int64_t total_train_steps(const TrainerOptions& options, int64_t n, int64_t per_step) {
  return options.max_steps > 0 ? options.max_steps : (options.epochs * n + per_step - 1) / per_step;
}

TrainResult run_train_loop(NamedTensors& params, const TrainerOptions& options, int64_t total_steps,
                           int64_t fingerprint, const TrainLoopHooks& hooks) {
  const int64_t warmup = static_cast<int64_t>(std::llround(options.warmup_ratio * static_cast<double>(total_steps)));
  auto learning_rate = [&](int64_t step) {
    if (step < warmup) return options.learning_rate * static_cast<double>(step + 1) / static_cast<double>(warmup);
    return options.learning_rate * std::max(0.0, static_cast<double>(total_steps - step) /
                                                     static_cast<double>(std::max<int64_t>(1, total_steps - warmup)));
  };
  AdamW optimizer(&params, AdamWOptions{0.9, 0.999, 1e-8, options.weight_decay});
  const at::Device device = params.begin()->second.device();

  int64_t step = 0;
  if (options.resume) {
    const std::string checkpoint = newest_checkpoint(options.out_dir);
    if (checkpoint.empty()) {
      std::cerr << "note: --resume: no checkpoint in " << options.out_dir << ", starting fresh\n";
    } else {
      std::ifstream in(fs::path(checkpoint) / "trainer_state.json");
      const auto state = nlohmann::json::parse(in);
      if (state.at("total_steps").get<int64_t>() != total_steps || state.at("seed").get<uint64_t>() != options.seed ||
          state.at("fingerprint").get<int64_t>() != fingerprint)
        throw std::invalid_argument(checkpoint + ": was made with other data or settings (total steps " +
                                    std::to_string(state.at("total_steps").get<int64_t>()) + ", now " +
                                    std::to_string(total_steps) + "); resume with the same data and options");
      step = state.at("step").get<int64_t>();
      hooks.load_weights(checkpoint);
      NamedTensors opt_state;
      Checkpoint opt_file((fs::path(checkpoint) / "optimizer.safetensors").string());
      for (const auto& name : opt_file.names()) opt_state[name] = opt_file.get(name).to(device);
      optimizer.load_state(opt_state, state.at("optimizer_steps").get<int64_t>());
      std::cerr << "resumed from " << checkpoint << " at step " << step << "\n";
    }
  }

  auto save_checkpoint = [&](int64_t at_step) {
    const fs::path final_dir = fs::path(options.out_dir) / ("checkpoint-" + std::to_string(at_step));
    const fs::path tmp = fs::path(options.out_dir) / (".tmp-checkpoint-" + std::to_string(at_step));
    fs::remove_all(tmp);
    hooks.save_model(tmp.string());
    save_safetensors((tmp / "optimizer.safetensors").string(), optimizer.state());
    const nlohmann::json state = {{"step", at_step}, {"total_steps", total_steps}, {"seed", options.seed},
                                  {"optimizer_steps", optimizer.steps()}, {"fingerprint", fingerprint}};
    std::ofstream(tmp / "trainer_state.json") << state.dump(2) << "\n";
    fs::remove_all(final_dir);
    fs::rename(tmp, final_dir);  // a checkpoint directory is complete or absent
    std::vector<std::pair<int64_t, fs::path>> all;
    for (const auto& entry : fs::directory_iterator(options.out_dir))
      if (checkpoint_step(entry.path()) >= 0) all.emplace_back(checkpoint_step(entry.path()), entry.path());
    std::sort(all.begin(), all.end());
    for (size_t i = 0; i + options.keep_checkpoints < all.size(); ++i) fs::remove_all(all[i].second);
  };

  TrainResult result;
  auto evaluate = [&] {
    if (!hooks.evaluate) return;
    result.metrics = hooks.evaluate();
    std::cerr << "eval at step " << step << ":";
    for (const auto& [k, v] : result.metrics) std::cerr << " " << k << "=" << v;
    std::cerr << "\n";
  };

  fs::create_directories(options.out_dir);
  // A line every log_every steps: loss, learning rate and tokens/s next to the step count,
  // rate and ETA (counted from this run's first step when resumed).
  std::optional<Progress> progress;
  if (options.progress) progress.emplace("steps", total_steps).starting_at(step);
  std::string report;  // the loss, lr and tok/s of the last line
  double loss_sum = 0;
  int64_t loss_count = 0, tokens = 0;
  for (; step < total_steps; ++step) {
    for (int64_t micro = 0; micro < options.grad_accum; ++micro) {
      auto [loss, covered] = hooks.micro_batch_loss(step * options.grad_accum + micro);
      (loss / static_cast<double>(options.grad_accum)).backward();
      loss_sum += loss.item<double>();
      ++loss_count;
      tokens += covered;
    }
    optimizer.clip_grad_norm(options.max_grad_norm);
    optimizer.step(learning_rate(step));
    optimizer.zero_grad();

    const int64_t done = step + 1;
    if (done % options.log_every == 0 || done == total_steps) {
      result.last_loss = loss_sum / static_cast<double>(std::max<int64_t>(1, loss_count));
      if (progress) {
        char text[128];
        std::snprintf(text, sizeof text, "loss %.4f  lr %.2e  %.0f tok/s", result.last_loss, learning_rate(step),
                      static_cast<double>(tokens) / std::max(progress->elapsed_seconds(), 1e-9));
        report = text;
        progress->show(done, report);
      }
      loss_sum = 0;
      loss_count = 0;
    }
    const bool interrupted = options.stop_after > 0 && done == options.stop_after && done < total_steps;
    if (done < total_steps && ((options.save_every > 0 && done % options.save_every == 0) || interrupted))
      save_checkpoint(done);
    if (interrupted) {
      if (progress) progress->finish(done, report);
      result.steps = done;
      return result;  // as if killed here: the final model files are not written
    }
    if (options.eval_every > 0 && done % options.eval_every == 0 && done < total_steps) {
      if (progress) progress->clear();
      evaluate();
    }
  }
  if (progress) progress->finish(step, report);
  save_checkpoint(step);
  hooks.save_model(options.out_dir);
  evaluate();
  result.steps = step;
  return result;
}

at::Tensor hidden_state_loss(const std::vector<at::Tensor>& student_layers, const std::vector<at::Tensor>& teacher_layers,
                             const at::Tensor& valid) {
  const auto S = static_cast<int64_t>(student_layers.size()), T = static_cast<int64_t>(teacher_layers.size());
  if (S == 0 || T == 0) throw std::invalid_argument("hidden_state_loss: no layers");
  const auto mask = valid.unsqueeze(-1).to(at::kFloat);
  const double units = mask.sum().item<double>() * static_cast<double>(student_layers[0].size(-1));
  at::Tensor total;
  for (int64_t l = 1; l <= S; ++l) {
    const int64_t t = std::max<int64_t>(1, (l * T + S / 2) / S);
    const auto diff = (student_layers[l - 1].to(at::kFloat) - teacher_layers[t - 1].to(at::kFloat)) * mask;
    const auto term = diff.pow(2).sum() / std::max(units, 1.0);
    total = total.defined() ? total + term : term;
  }
  return total / static_cast<double>(S);
}

at::Tensor position_kl_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits, const at::Tensor& valid,
                            double temperature) {
  // A large finite value instead of -inf keeps 0 * log 0 out of the sum.
  auto scaled = [&](const at::Tensor& logits) {
    return logits.to(at::kFloat).masked_fill(valid.logical_not(), -1e4) / temperature;
  };
  const auto teacher_log_p = at::log_softmax(scaled(teacher_logits), -1);
  const auto student_log_p = at::log_softmax(scaled(student_logits), -1);
  return (teacher_log_p.exp() * (teacher_log_p - student_log_p)).sum(-1).mean() * (temperature * temperature);
}

}  // namespace longqa
