#include "adamw.h"

#include <cmath>
#include <stdexcept>

namespace longqa {

AdamW::AdamW(NamedTensors* params, AdamWOptions options) : params_(params), options_(options) {
  for (const auto& [name, p] : *params_) {
    exp_avg_[name] = at::zeros_like(p);
    exp_avg_sq_[name] = at::zeros_like(p);
  }
}

bool AdamW::decays(const std::string& name) {
  auto ends_with = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return !(ends_with(".bias") || ends_with("LayerNorm.weight") || name.find("bialibi_") != std::string::npos);
}

void AdamW::step(double learning_rate) {
  c10::NoGradGuard no_grad;
  ++steps_;
  const double correction1 = 1 - std::pow(options_.beta1, static_cast<double>(steps_));
  const double correction2 = 1 - std::pow(options_.beta2, static_cast<double>(steps_));
  for (auto& [name, p] : *params_) {
    const auto& grad = p.grad();
    if (!grad.defined()) continue;
    if (decays(name)) p.mul_(1 - learning_rate * options_.weight_decay);
    auto& m = exp_avg_.at(name);
    auto& v = exp_avg_sq_.at(name);
    m.mul_(options_.beta1).add_(grad, 1 - options_.beta1);
    v.mul_(options_.beta2).addcmul_(grad, grad, 1 - options_.beta2);
    auto denom = (v / correction2).sqrt_().add_(options_.eps);
    p.addcdiv_(m, denom, -learning_rate / correction1);
  }
}

void AdamW::zero_grad() {
  for (auto& [name, p] : *params_)
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
}

double AdamW::clip_grad_norm(double max_norm) {
  c10::NoGradGuard no_grad;
  double total = 0;
  for (auto& [name, p] : *params_)
    if (p.grad().defined()) total += p.grad().to(at::kDouble).pow(2).sum().item<double>();
  total = std::sqrt(total);
  if (max_norm > 0 && total > max_norm) {
    const double scale = max_norm / (total + 1e-6);
    for (auto& [name, p] : *params_)
      if (p.grad().defined()) p.mutable_grad().mul_(scale);
  }
  return total;
}

NamedTensors AdamW::state() const {
  NamedTensors out;
  for (const auto& [name, t] : exp_avg_) out["exp_avg." + name] = t;
  for (const auto& [name, t] : exp_avg_sq_) out["exp_avg_sq." + name] = t;
  return out;
}

void AdamW::load_state(const NamedTensors& state, int64_t steps) {
  c10::NoGradGuard no_grad;
  for (auto& [name, t] : exp_avg_) {
    for (const char* kind : {"exp_avg.", "exp_avg_sq."}) {
      auto it = state.find(kind + name);
      if (it == state.end()) throw std::runtime_error(std::string("optimizer state has no '") + kind + name + "'");
      (std::string(kind) == "exp_avg." ? exp_avg_ : exp_avg_sq_).at(name).copy_(it->second);
    }
  }
  steps_ = steps;
}

}  // namespace longqa
