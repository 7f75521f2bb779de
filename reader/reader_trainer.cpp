#include "longqa/reader_trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "adamw.h"
#include "longqa/safetensors.h"
#include "qa_windows.h"

namespace fs = std::filesystem;

namespace longqa {
namespace {

struct TokenizedExample {
  std::vector<int32_t> question;
  std::vector<Token> context;
};

// One training window and its labels (sequence positions; 0 = [CLS] = no answer here).
struct Feature {
  size_t example;
  int64_t begin, end;
  int64_t start_label, end_label;
};

// Token range [first, last] covering the byte range [begin, end), or {-1, -1}.
std::pair<int64_t, int64_t> answer_tokens(const std::vector<Token>& tokens, int64_t begin, int64_t end) {
  int64_t first = -1, last = -1;
  for (int64_t i = 0; i < static_cast<int64_t>(tokens.size()); ++i) {
    if (first < 0 && tokens[i].end > begin) first = i;
    if (tokens[i].begin < end) last = i;
  }
  if (first < 0 || last < first) return {-1, -1};
  return {first, last};
}

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

std::string format_duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

// The newest complete checkpoint directory in out_dir, or "".
std::string newest_checkpoint(const std::string& out_dir) {
  std::string best;
  int64_t best_step = -1;
  if (!fs::is_directory(out_dir)) return best;
  for (const auto& entry : fs::directory_iterator(out_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) != 0 || !fs::exists(entry.path() / "trainer_state.json")) continue;
    const int64_t step = std::stoll(name.substr(11));
    if (step > best_step) best_step = step, best = entry.path().string();
  }
  return best;
}

}  // namespace

void copy_tokenizer_files(const std::string& from_dir, const std::string& to_dir) {
  fs::create_directories(to_dir);
  for (const char* name : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"}) {
    const fs::path from = fs::path(from_dir) / name;
    if (fs::exists(from)) fs::copy_file(from, fs::path(to_dir) / name, fs::copy_options::overwrite_existing);
  }
}

ReaderTrainer::ReaderTrainer(QaModel model, std::shared_ptr<const Tokenizer> tokenizer, TrainerOptions options)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), options_(std::move(options)) {
  if (options_.out_dir.empty()) throw std::invalid_argument("trainer: out_dir is required");
  if (options_.batch_size < 1 || options_.grad_accum < 1) throw std::invalid_argument("trainer: batch_size and grad_accum must be >= 1");
  if (options_.epochs < 1 && options_.max_steps < 1) throw std::invalid_argument("trainer: give epochs or max_steps");
  if (options_.window_tokens > model_.config().max_window_tokens())
    throw std::invalid_argument("trainer: window_tokens " + std::to_string(options_.window_tokens) +
                                " exceeds the model's maximum " + std::to_string(model_.config().max_window_tokens()));
}

void ReaderTrainer::save_model(const std::string& dir) const {
  model_.save(dir);
  if (!options_.tokenizer_dir.empty()) copy_tokenizer_files(options_.tokenizer_dir, dir);
}

TrainResult ReaderTrainer::train(const std::vector<QaExample>& examples) {
  const at::Device device(options_.device);
  const bool autocast = options_.bf16 && device.is_cuda();

  // Tokenize once and cut windows; labels come from the tokens' byte offsets.
  std::vector<TokenizedExample> tokenized(examples.size());
  std::vector<Feature> features;
  std::mt19937_64 keep_rng(options_.seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  int64_t unlabelled_answers = 0;
  for (size_t e = 0; e < examples.size(); ++e) {
    auto& t = tokenized[e];
    for (const auto& token : tokenizer_->tokenize(examples[e].question)) t.question.push_back(token.id);
    if (static_cast<int64_t>(t.question.size()) > options_.max_question_tokens) t.question.resize(options_.max_question_tokens);
    t.context = tokenizer_->tokenize(examples[e].context);
    std::pair<int64_t, int64_t> answer{-1, -1};
    if (!examples[e].answers.empty()) {
      answer = answer_tokens(t.context, examples[e].answers[0].first, examples[e].answers[0].second);
      if (answer.first < 0) {
        ++unlabelled_answers;  // e.g. an answer made only of characters the tokenizer drops
        continue;
      }
    }
    const auto layout = WindowLayout::make(options_.window_tokens, static_cast<int64_t>(t.question.size()),
                                           options_.overlap_tokens);
    const int64_t offset = static_cast<int64_t>(t.question.size()) + 2;
    for (auto [begin, end] : layout.ranges(static_cast<int64_t>(t.context.size()))) {
      const bool inside = answer.first >= begin && answer.second < end;
      if (answer.first >= 0 && !inside && uniform(keep_rng) >= options_.negative_window_keep) continue;
      features.push_back({e, begin, end, inside ? answer.first - begin + offset : 0,
                          inside ? answer.second - begin + offset : 0});
    }
  }
  if (features.empty()) throw std::invalid_argument("trainer: no training windows (empty or unusable examples)");
  if (unlabelled_answers > 0)
    std::cerr << "note: " << unlabelled_answers << " examples skipped: their answer covers no token\n";

  const int64_t per_step = options_.batch_size * options_.grad_accum;
  const int64_t total_features = static_cast<int64_t>(features.size());
  const int64_t total_steps = options_.max_steps > 0
                                  ? options_.max_steps
                                  : (options_.epochs * total_features + per_step - 1) / per_step;
  const int64_t warmup = static_cast<int64_t>(std::llround(options_.warmup_ratio * static_cast<double>(total_steps)));
  auto learning_rate = [&](int64_t step) {
    if (step < warmup) return options_.learning_rate * static_cast<double>(step + 1) / static_cast<double>(warmup);
    return options_.learning_rate * std::max(0.0, static_cast<double>(total_steps - step) /
                                                      static_cast<double>(std::max<int64_t>(1, total_steps - warmup)));
  };

  // The sample stream: epoch e visits the windows in a permutation fixed by (seed, e), so
  // step k always sees the same windows, with or without a resume in between.
  int64_t cached_epoch = -1;
  std::vector<int64_t> order(features.size());
  auto feature_at = [&](int64_t i) -> const Feature& {
    const int64_t epoch = i / total_features;
    if (epoch != cached_epoch) {
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), std::mt19937_64(options_.seed + 1000003ULL * static_cast<uint64_t>(epoch)));
      cached_epoch = epoch;
    }
    return features[order[i % total_features]];
  };

  model_.make_trainable();
  model_.to(device, at::kFloat);
  AdamW optimizer(&model_.parameters(), AdamWOptions{0.9, 0.999, 1e-8, options_.weight_decay});
  int64_t step = 0;
  if (options_.resume) {
    const std::string checkpoint = newest_checkpoint(options_.out_dir);
    if (checkpoint.empty()) {
      std::cerr << "note: --resume: no checkpoint in " << options_.out_dir << ", starting fresh\n";
    } else {
      std::ifstream in(fs::path(checkpoint) / "trainer_state.json");
      const auto state = nlohmann::json::parse(in);
      if (state.at("total_steps").get<int64_t>() != total_steps || state.at("seed").get<uint64_t>() != options_.seed)
        throw std::invalid_argument(checkpoint + ": was made with other data or settings (total steps " +
                                    std::to_string(state.at("total_steps").get<int64_t>()) + ", now " +
                                    std::to_string(total_steps) + ")");
      step = state.at("step").get<int64_t>();
      QaModel saved = QaModel::load(checkpoint);
      c10::NoGradGuard no_grad;
      for (auto& [name, p] : model_.parameters()) p.copy_(saved.parameters().at(name));
      NamedTensors opt_state;
      Checkpoint opt_file((fs::path(checkpoint) / "optimizer.safetensors").string());
      for (const auto& name : opt_file.names()) opt_state[name] = opt_file.get(name).to(device);
      optimizer.load_state(opt_state, state.at("optimizer_steps").get<int64_t>());
      std::cerr << "resumed from " << checkpoint << " at step " << step << "\n";
    }
  }

  auto save_checkpoint = [&](int64_t at_step) {
    const fs::path final_dir = fs::path(options_.out_dir) / ("checkpoint-" + std::to_string(at_step));
    const fs::path tmp = fs::path(options_.out_dir) / (".tmp-checkpoint-" + std::to_string(at_step));
    fs::remove_all(tmp);
    save_model(tmp.string());
    save_safetensors((tmp / "optimizer.safetensors").string(), optimizer.state());
    nlohmann::json state = {{"step", at_step}, {"total_steps", total_steps}, {"seed", options_.seed},
                            {"optimizer_steps", optimizer.steps()}, {"windows", total_features}};
    std::ofstream(tmp / "trainer_state.json") << state.dump(2) << "\n";
    fs::remove_all(final_dir);
    fs::rename(tmp, final_dir);  // a checkpoint directory is complete or absent
    std::vector<std::pair<int64_t, fs::path>> all;
    for (const auto& entry : fs::directory_iterator(options_.out_dir)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("checkpoint-", 0) == 0) all.emplace_back(std::stoll(name.substr(11)), entry.path());
    }
    std::sort(all.begin(), all.end());
    for (size_t i = 0; i + options_.keep_checkpoints < all.size(); ++i) fs::remove_all(all[i].second);
  };

  TrainResult result;
  auto evaluate = [&] {
    if (!evaluator_) return;
    result.metrics = evaluator_(model_, *tokenizer_);
    std::cerr << "\neval at step " << step << ":";
    for (const auto& [k, v] : result.metrics) std::cerr << " " << k << "=" << v;
    std::cerr << "\n";
  };

  fs::create_directories(options_.out_dir);
  const bool tty = isatty(2);
  const auto started = std::chrono::steady_clock::now();
  const int64_t first_step = step;
  double loss_sum = 0;
  int64_t loss_count = 0, tokens = 0;
  for (; step < total_steps; ++step) {
    for (int64_t micro = 0; micro < options_.grad_accum; ++micro) {
      std::vector<WindowSpan> spans;
      std::vector<int64_t> starts, ends;
      for (int64_t b = 0; b < options_.batch_size; ++b) {
        const Feature& f = feature_at((step * options_.grad_accum + micro) * options_.batch_size + b);
        spans.push_back({&tokenized[f.example].question, &tokenized[f.example].context, f.begin, f.end});
        starts.push_back(f.start_label);
        ends.push_back(f.end_label);
      }
      const auto input = make_window_batch(spans, *tokenizer_);
      tokens += input.valid.sum().item<int64_t>();
      at::Tensor loss;
      {
        CudaAutocast cast(autocast);
        const auto logits =
            model_.forward({input.input_ids.to(device), input.token_type_ids.to(device), input.valid.to(device)});
        const auto start_target = at::tensor(starts, at::kLong).to(device);
        const auto end_target = at::tensor(ends, at::kLong).to(device);
        loss = (at::cross_entropy_loss(logits.start, start_target) + at::cross_entropy_loss(logits.end, end_target)) / 2;
      }
      (loss / static_cast<double>(options_.grad_accum)).backward();
      loss_sum += loss.item<double>();
      ++loss_count;
    }
    optimizer.clip_grad_norm(options_.max_grad_norm);
    optimizer.step(learning_rate(step));
    optimizer.zero_grad();

    const int64_t done = step + 1;
    if (done % options_.log_every == 0 || done == total_steps) {
      result.last_loss = loss_sum / static_cast<double>(std::max<int64_t>(1, loss_count));
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const double per_step_s = elapsed / static_cast<double>(done - first_step);
      if (options_.progress) {
        char line[256];
        std::snprintf(line, sizeof line, "step %lld/%lld | loss %.4f | lr %.2e | %.0f tok/s | elapsed %s | ETA %s",
                      static_cast<long long>(done), static_cast<long long>(total_steps), result.last_loss,
                      learning_rate(step), static_cast<double>(tokens) / std::max(elapsed, 1e-9),
                      format_duration(elapsed).c_str(),
                      format_duration(per_step_s * static_cast<double>(total_steps - done)).c_str());
        std::cerr << (tty ? "\r" : "") << line << (tty ? "" : "\n") << std::flush;
      }
      loss_sum = 0;
      loss_count = 0;
    }
    if (options_.save_every > 0 && done % options_.save_every == 0 && done < total_steps) save_checkpoint(done);
    if (options_.eval_every > 0 && done % options_.eval_every == 0 && done < total_steps) evaluate();
    if (options_.stop_after > 0 && done == options_.stop_after && done < total_steps) {
      if (options_.progress && tty) std::cerr << "\n";
      save_checkpoint(done);
      result.steps = done;
      return result;  // interrupted: the out_dir model files are not written
    }
  }
  if (options_.progress && tty) std::cerr << "\n";
  save_checkpoint(step);
  save_model(options_.out_dir);
  evaluate();
  result.steps = step;
  return result;
}

}  // namespace longqa
