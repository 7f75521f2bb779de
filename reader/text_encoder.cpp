// Dense text embeddings: a BERT-family encoder from a model directory, pooled and
// normalised the way its sentence-transformers configuration says.
#include "longqa/text_encoder.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <stdexcept>

#include "longqa/common/errors.h"
#include "layers.h"
#include "longqa/qa_model.h"
#include "longqa/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace longqa {
namespace {

json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw FileFormatError(path.string(), std::string("cannot open: ") + std::strerror(errno));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double
    throw FileFormatError(path.string(), std::string("invalid JSON: ") + e.what());
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A 64-bit checksum fast enough for ~100 MB of weights on every load: FNV-1a's prime over
// 8-byte words in four independent lanes (an xor-shift carries high bits down), bytes at
// the tail, each item's length mixed in so item boundaries count.
class Checksum {
 public:
  void update(const void* data, size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 32 <= size; i += 32) {
      for (size_t lane = 0; lane < 4; ++lane) {
        uint64_t word;
        std::memcpy(&word, bytes + i + 8 * lane, 8);
        lanes_[lane] = mix(lanes_[lane] ^ word);
      }
    }
    for (; i < size; ++i) lanes_[0] = mix(lanes_[0] ^ bytes[i]);
    lanes_[1] = mix(lanes_[1] ^ size);
  }
  void update(const std::string& s) { update(s.data(), s.size()); }

  void update_file(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) {
      const std::string reason = std::strerror(errno);
      if (fd >= 0) ::close(fd);
      throw FileFormatError(path.string(), "cannot read: " + reason);
    }
    const size_t size = static_cast<size_t>(st.st_size);
    void* data = size > 0 ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
    const int map_errno = errno;
    ::close(fd);
    if (data == MAP_FAILED) throw FileFormatError(path.string(), std::string("cannot map: ") + std::strerror(map_errno));
    if (data) {
      ::madvise(data, size, MADV_SEQUENTIAL);
      update(data, size);
      ::munmap(data, size);
    }
    update(path.filename().string());
  }

  std::string hex() const {
    uint64_t h = kOffset;
    for (const uint64_t lane : lanes_) h = mix(h ^ lane);
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
  }

 private:
  static constexpr uint64_t kOffset = 0xcbf29ce484222325ULL, kPrime = 0x100000001b3ULL;
  static uint64_t mix(uint64_t h) {
    h *= kPrime;
    return h ^ (h >> 29);
  }
  std::array<uint64_t, 4> lanes_ = {kOffset, kOffset + 1, kOffset + 2, kOffset + 3};
};

const char* pooling_name(Pooling pooling) {
  switch (pooling) {
    case Pooling::kMean: return "mean";
    case Pooling::kCls: return "cls";
    case Pooling::kMax: return "max";
  }
  return "?";
}

// sentence-transformers' Pooling config: exactly one of the modes we implement.
Pooling read_pooling(const fs::path& path, int64_t hidden_size) {
  const json config = read_json(path);
  const auto flag = [&](const char* key) {
    const auto it = config.find(key);
    return it != config.end() && it->is_boolean() && it->get<bool>();
  };
  for (const char* key : {"pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                          "pooling_mode_lasttoken"})
    if (flag(key)) throw FileFormatError(path.string(), std::string(key) + " is not supported (mean, cls or max only)");
  const int modes = flag("pooling_mode_mean_tokens") + flag("pooling_mode_cls_token") + flag("pooling_mode_max_tokens");
  if (modes != 1)
    throw FileFormatError(path.string(), "exactly one of pooling_mode_mean_tokens, pooling_mode_cls_token, "
                             "pooling_mode_max_tokens must be true (concatenated modes are not supported)");
  const auto dim = config.find("word_embedding_dimension");
  if (dim != config.end() && dim->is_number_integer() && dim->get<int64_t>() != hidden_size)
    throw FileFormatError(path.string(), "word_embedding_dimension " + std::to_string(dim->get<int64_t>()) +
                             " differs from the model's hidden_size " + std::to_string(hidden_size));
  return flag("pooling_mode_cls_token") ? Pooling::kCls : flag("pooling_mode_max_tokens") ? Pooling::kMax : Pooling::kMean;
}

// The weight files in a fixed order: model.safetensors, or the shards its index names.
std::vector<fs::path> weight_files(const fs::path& dir) {
  if (fs::exists(dir / "model.safetensors")) return {dir / "model.safetensors"};
  const fs::path index = dir / "model.safetensors.index.json";
  const json map = read_json(index).value("weight_map", json::object());
  std::set<std::string> shards;
  for (const auto& [name, file] : map.items())
    if (file.is_string()) shards.insert(file.get<std::string>());
  if (shards.empty()) throw FileFormatError(index.string(), "no shards in 'weight_map'");
  std::vector<fs::path> files;
  for (const auto& shard : shards) files.push_back(dir / shard);
  return files;
}

}  // namespace

TextEncoder TextEncoder::load(const std::string& dir, const std::string& device) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw FileFormatError(dir, "not a directory");
  TextEncoder encoder;
  fs::path model_dir = root;
  fs::path pooling_config;
  const fs::path modules_file = root / "modules.json";
  if (fs::exists(modules_file)) {
    // sentence-transformers: normalised only when a Normalize module says so.
    encoder.normalize_ = false;
    const json modules = read_json(modules_file);
    if (!modules.is_array()) throw FileFormatError(modules_file.string(), "expected an array of modules");
    for (const auto& module : modules) {
      const std::string type = module.is_object() ? module.value("type", "") : "";
      const std::string path = module.is_object() ? module.value("path", "") : "";
      if (ends_with(type, ".Transformer")) {
        model_dir = root / path;
      } else if (ends_with(type, ".Pooling")) {
        pooling_config = root / path / "config.json";
      } else if (ends_with(type, ".Normalize")) {
        encoder.normalize_ = true;
      } else {
        throw FileFormatError(modules_file.string(), "module type '" + type +
                                 "' is not supported (Transformer, Pooling and Normalize only)");
      }
    }
    if (pooling_config.empty()) throw FileFormatError(modules_file.string(), "no Pooling module");
  }
  if (!fs::exists(model_dir / "config.json"))
    throw FileFormatError(model_dir.string(), "not an encoder model directory (no config.json)");
  if (!fs::exists(model_dir / "model.safetensors") && !fs::exists(model_dir / "model.safetensors.index.json"))
    throw FileFormatError(model_dir.string(), std::string("no model.safetensors (or model.safetensors.index.json)") +
                             (fs::exists(model_dir / "pytorch_model.bin")
                                  ? "; pytorch_model.bin is not read: save the model with safetensors"
                                  : ""));

  auto model = std::make_shared<QaModel>(QaModel::load_encoder(model_dir.string()));
  const ModelConfig& config = model->config();
  if (!pooling_config.empty()) encoder.pooling_ = read_pooling(pooling_config, config.hidden_size);
  encoder.max_tokens_ = config.max_window_tokens();
  const fs::path st_config = model_dir / "sentence_bert_config.json";
  if (fs::exists(st_config)) {
    const json c = read_json(st_config);
    if (c.value("do_lower_case", false))
      throw FileFormatError(st_config.string(), "do_lower_case is not supported (lowercase in the tokenizer's settings instead)");
    const auto length = c.find("max_seq_length");
    if (length != c.end() && length->is_number_integer())
      encoder.max_tokens_ = std::min(length->get<int64_t>(), encoder.max_tokens_);
  }
  if (encoder.max_tokens_ < 2)
    throw FileFormatError(model_dir.string(), "max_seq_length " + std::to_string(encoder.max_tokens_) +
                             " leaves no room for [CLS] and [SEP]");
  encoder.tokenizer_ = std::make_shared<const Tokenizer>(Tokenizer::from_directory(model_dir.string()));
  encoder.device_ = c10::Device(device);
  model->to(encoder.device_, at::kFloat);
  encoder.model_ = std::move(model);

  Checksum checksum;
  checksum.update_file(model_dir / "config.json");
  for (const auto& file : weight_files(model_dir)) checksum.update_file(file);
  for (const auto& token : encoder.tokenizer_->vocab()) checksum.update(token);
  checksum.update(std::string("pooling=") + pooling_name(encoder.pooling_) +
                  " normalize=" + std::to_string(encoder.normalize_) + " max_tokens=" +
                  std::to_string(encoder.max_tokens_) +
                  " lowercase=" + std::to_string(encoder.tokenizer_->options().lowercase));
  encoder.id_ = checksum.hex();
  return encoder;
}

int64_t TextEncoder::dimension() const { return model_->config().hidden_size; }

at::Tensor TextEncoder::encode(const std::vector<std::string>& texts, int64_t batch_size) const {
  if (batch_size <= 0) throw std::invalid_argument("TextEncoder::encode: batch_size must be positive");
  const int64_t n = static_cast<int64_t>(texts.size());
  // Made outside inference mode, so callers may use it as any tensor.
  auto out = at::empty({n, dimension()}, at::kFloat);
  c10::InferenceMode guard;
  std::vector<std::vector<int32_t>> ids(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    for (const Token& t : tokenizer_->tokenize(texts[i])) ids[i].push_back(t.id);
    ids[i].resize(std::min<size_t>(ids[i].size(), static_cast<size_t>(max_tokens_ - 2)));
  }
  // Similar lengths share a batch, so little of it is padding.
  std::vector<int64_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return ids[a].size() > ids[b].size(); });

  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(n, begin + batch_size);
    std::vector<const std::vector<int32_t>*> batch;
    for (int64_t i = begin; i < end; ++i) batch.push_back(&ids[order[i]]);
    const EncoderInput cpu = layers::single_segment_batch(batch, max_tokens_, tokenizer_->cls_id(),
                                                          tokenizer_->sep_id(), tokenizer_->pad_id());
    const EncoderInput input{cpu.input_ids.to(device_), cpu.token_type_ids.to(device_), cpu.valid.to(device_)};
    const at::Tensor hidden = model_->encode(input).to(at::kFloat);
    at::Tensor pooled;
    switch (pooling_) {
      case Pooling::kMean: pooled = layers::mean_pool(hidden, input.valid); break;
      case Pooling::kCls: pooled = hidden.select(1, 0); break;
      // As sentence-transformers: padding counts as -1e9.
      case Pooling::kMax: pooled = hidden.masked_fill(input.valid.logical_not().unsqueeze(-1), -1e9).amax(1); break;
    }
    if (normalize_) pooled = pooled / pooled.norm(2, {1}, true).clamp_min(1e-12);
    const auto rows = at::tensor(std::vector<int64_t>(order.begin() + begin, order.begin() + end), at::kLong);
    out.index_copy_(0, rows, pooled.to(at::kCPU));
  }
  return out;
}

}  // namespace longqa
