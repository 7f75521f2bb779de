#include "model_loader.h"

#include <torch/cuda.h>
#include <torch/version.h>

#include <c10/core/Device.h>
#include <filesystem>
#include <stdexcept>

#include "longqa/postgres_store.h"
#include "longqa/qa_model.h"
#include "longqa/text_encoder.h"
#include "longqa/tokenizer.h"

namespace longqa::server {
namespace {

c10::Device usable_device(const std::string& name) {
  const c10::Device device(name);
  if (device.is_cuda() && !torch::cuda::is_available())
    throw std::invalid_argument("device " + name + ": CUDA is not available on this machine");
  return device;
}

}  // namespace

LoadedReader load_reader(const ServerSettings& settings) {
  const c10::Device device = usable_device(settings.device);
  auto model = std::make_shared<QaModel>(QaModel::load(settings.reader_dir));
  if (!device.is_cpu()) model->to(device, at::kFloat);
  auto tokenizer = std::make_shared<Tokenizer>(Tokenizer::from_directory(settings.reader_dir));

  ReaderOptions options;
  options.max_answer_tokens = settings.max_answer_tokens;
  options.n_best = settings.max_top_k_answers;  // requests ask for at most this many
  options.window_tokens = settings.window_tokens;
  options.overlap_tokens = settings.overlap_tokens;
  options.batch_windows = settings.batch_windows;
  options.batch_tokens = settings.batch_tokens;
  options.dtype = settings.dtype;
  options.allow_no_answer = settings.allow_no_answer;
  options.score_calibration = settings.score_calibration;
  options.passage_weight = settings.passage_weight;

  const ModelConfig& c = model->config();
  nlohmann::json info = {{"dir", settings.reader_dir},
                         {"model_type", c.model_type},
                         {"hidden_size", c.hidden_size},
                         {"num_hidden_layers", c.num_hidden_layers},
                         {"num_attention_heads", c.num_attention_heads},
                         {"vocab_size", c.vocab_size},
                         {"max_window_tokens", c.max_window_tokens()}};
  return {std::make_shared<Reader>(std::move(model), std::move(tokenizer), options), std::move(info)};
}

std::unique_ptr<retriever::Store> load_index(const ServerSettings& settings) {
  const std::string device = usable_device(settings.device).str();
  const std::string& location = settings.index_dir;
  const std::string shown = retriever::redact_connection_string(location);
  // A PostgreSQL store without longqa tables, or a folder without index.json: a new, empty index.
  std::string recorded;
  bool exists = false;
  if (retriever::is_postgres_location(location)) {
    try {
      recorded = retriever::recorded_encoder_path(location);  // a server that cannot be reached throws on
      exists = true;
    } catch (const std::invalid_argument&) {  // no longqa tables there
    }
  } else if (std::filesystem::exists(std::filesystem::path(location) / "index.json")) {
    recorded = retriever::recorded_encoder_path(location);
    exists = true;
  }
  if (!exists && settings.encoder.empty())
    throw std::invalid_argument("index " + shown + ": no index there; give --encoder DIR to start a new, empty one");
  const std::string encoder_dir = !settings.encoder.empty() ? settings.encoder : recorded;
  if (encoder_dir.empty())
    throw std::invalid_argument("index " + shown + ": it records no encoder; give --encoder DIR");
  auto encoder = std::make_shared<const TextEncoder>(TextEncoder::load(encoder_dir, device));
  if (exists) return retriever::open_store(location, std::move(encoder), retriever::OpenMode::kReadWrite);
  retriever::IndexOptions options;
  options.encoder_path = std::filesystem::absolute(encoder_dir).string();
  return retriever::create_store(location, std::move(encoder), options);
}

nlohmann::json build_info(const ServerSettings& settings) {
  return {{"device", c10::Device(settings.device).str()},
          {"cuda_available", torch::cuda::is_available()},
          {"torch_version", TORCH_VERSION},
          {"compiler", std::string("gcc ") + __VERSION__}};
}

}  // namespace longqa::server
