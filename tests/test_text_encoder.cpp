// TextEncoder: all-MiniLM-L6-v2 against sentence-transformers (tests/hf/encoder_fixtures.py),
// and pooling, lengths, ids and errors on tiny random models written here.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "longqa/qa_model.h"
#include "longqa/text_encoder.h"
#include "longqa/tokenizer.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace longqa;
using longqa::test::TempDir;
using longqa::test::write_file;
using nlohmann::json;

namespace {

ModelConfig tiny_bert() {
  ModelConfig c;
  c.model_type = "bert";
  c.vocab_size = static_cast<int64_t>(test::tiny_vocab().size());
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 64;
  c.max_position_embeddings = 64;
  return c;
}

void make_model_dir(const fs::path& dir, uint64_t seed) {
  QaModel::random(tiny_bert(), seed).save(dir.string());
  test::write_vocab(dir, test::tiny_vocab());
}

void write_st_layout(const fs::path& dir, const std::string& pooling_flags, bool normalize) {
  std::string modules = R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"})";
  if (normalize) modules += R"(, {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})";
  write_file(dir / "modules.json", modules + "]");
  fs::create_directories(dir / "1_Pooling");
  write_file(dir / "1_Pooling" / "config.json", "{\"word_embedding_dimension\": 32, " + pooling_flags + "}");
}

const std::vector<std::string> kTinyTexts = {"alpha w1 w2, the omega.", "w3", "", "W7 ws unknownword alpha"};

std::string long_tiny_text() {
  std::string text;
  for (int i = 0; i < 150; ++i) text += "w" + std::to_string(i) + " ";
  return text;
}

// Hidden states of one text on its own, no padding: (n, d).
at::Tensor hidden_alone(const QaModel& model, const Tokenizer& tokenizer, const std::string& text, int64_t max_tokens) {
  std::vector<int64_t> ids = {tokenizer.cls_id()};
  for (const auto& t : tokenizer.tokenize(text))
    if (static_cast<int64_t>(ids.size()) < max_tokens - 1) ids.push_back(t.id);
  ids.push_back(tokenizer.sep_id());
  const auto n = static_cast<int64_t>(ids.size());
  const auto input_ids = at::tensor(ids, at::kLong).view({1, n});
  return model.encode({input_ids, at::zeros_like(input_ids), at::ones({1, n}, at::kBool)})[0];
}

double cosine_min(const at::Tensor& a, const at::Tensor& b) {
  const auto cos = (a * b).sum(1) / (a.norm(2, {1}) * b.norm(2, {1})).clamp_min(1e-12);
  return cos.min().item<double>();
}

}  // namespace

TEST_CASE("all-MiniLM-L6-v2 gives sentence-transformers' embeddings", "[text_encoder][hf]") {
  const fs::path reference_file = fs::path(LONGQA_HF_FIXTURES) / "encoder_reference.json";
  REQUIRE(fs::exists(reference_file));
  const json reference = json::parse(std::ifstream(reference_file));
  const auto encoder = TextEncoder::load(reference["model_dir"].get<std::string>());
  CHECK(encoder.dimension() == 384);
  CHECK(encoder.max_tokens() == reference["max_seq_length"].get<int64_t>());
  CHECK(encoder.pooling() == Pooling::kMean);
  CHECK(encoder.normalized());

  const auto texts = reference["texts"].get<std::vector<std::string>>();
  const auto expected_rows = reference["embeddings"].get<std::vector<std::vector<float>>>();
  auto expected = at::empty({static_cast<int64_t>(texts.size()), 384}, at::kFloat);
  for (size_t i = 0; i < texts.size(); ++i)
    expected[static_cast<int64_t>(i)].copy_(at::tensor(expected_rows[i], at::kFloat));

  const auto embeddings = encoder.encode(texts, 8);
  REQUIRE(embeddings.sizes() == at::IntArrayRef({static_cast<int64_t>(texts.size()), 384}));
  CHECK_FALSE(embeddings.is_inference());
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto row = static_cast<int64_t>(i);
    INFO("text " << i << ": \"" << texts[i].substr(0, 60) << "\"");
    CHECK(cosine_min(embeddings.narrow(0, row, 1), expected.narrow(0, row, 1)) >= 0.9999);
    CHECK(embeddings[row].norm().item<double>() == Approx(1.0).epsilon(1e-5));
  }
  const double min_cosine = cosine_min(embeddings, expected);
  CHECK(min_cosine >= 0.9999);
  // Batching (padding, length sorting) changes nothing.
  CHECK((encoder.encode(texts, 1) - embeddings).abs().max().item<double>() < 1e-5);
  CHECK(encoder.encode({}).size(0) == 0);
}

TEST_CASE("pooling modes and normalisation follow the sentence-transformers layout", "[text_encoder]") {
  TempDir dir("encoder");
  make_model_dir(dir.path(), 5);
  const auto model = QaModel::load_encoder(dir.path().string());
  const auto tokenizer = Tokenizer::from_directory(dir.path().string());
  std::vector<std::string> texts = kTinyTexts;
  texts.push_back(long_tiny_text());
  c10::InferenceMode guard;

  SECTION("no modules.json: mean pooling, normalised, as long as the positions allow") {
    const auto encoder = TextEncoder::load(dir.path().string());
    CHECK(encoder.pooling() == Pooling::kMean);
    CHECK(encoder.normalized());
    CHECK(encoder.max_tokens() == 64);
    CHECK(encoder.dimension() == 32);
    const auto out = encoder.encode(texts, 2);
    for (size_t i = 0; i < texts.size(); ++i) {
      const auto mean = hidden_alone(model, tokenizer, texts[i], 64).mean(0);
      CHECK(at::allclose(out[static_cast<int64_t>(i)], mean / mean.norm(), 1e-4, 1e-5));
    }
  }
  SECTION("CLS pooling without Normalize; max_seq_length from sentence_bert_config.json") {
    write_st_layout(dir.path(), R"("pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false)", false);
    write_file(dir.path() / "sentence_bert_config.json", R"({"max_seq_length": 16, "do_lower_case": false})");
    const auto encoder = TextEncoder::load(dir.path().string());
    CHECK(encoder.pooling() == Pooling::kCls);
    CHECK_FALSE(encoder.normalized());
    CHECK(encoder.max_tokens() == 16);
    const auto out = encoder.encode(texts, 3);
    for (size_t i = 0; i < texts.size(); ++i)
      CHECK(at::allclose(out[static_cast<int64_t>(i)], hidden_alone(model, tokenizer, texts[i], 16)[0], 1e-4, 1e-5));
  }
  SECTION("max pooling, normalised; a max_seq_length past the positions is capped") {
    write_st_layout(dir.path(), R"("pooling_mode_max_tokens": true)", true);
    write_file(dir.path() / "sentence_bert_config.json", R"({"max_seq_length": 1000})");
    const auto encoder = TextEncoder::load(dir.path().string());
    CHECK(encoder.pooling() == Pooling::kMax);
    CHECK(encoder.max_tokens() == 64);
    const auto out = encoder.encode(texts, 2);
    for (size_t i = 0; i < texts.size(); ++i) {
      const auto max = std::get<0>(hidden_alone(model, tokenizer, texts[i], 64).max(0));
      CHECK(at::allclose(out[static_cast<int64_t>(i)], max / max.norm(), 1e-4, 1e-5));
    }
  }
}

TEST_CASE("the encoder id follows weights, config and pooling", "[text_encoder]") {
  TempDir a("encoder"), b("encoder");
  make_model_dir(a.path(), 1);
  make_model_dir(b.path(), 2);
  const std::string id = TextEncoder::load(a.path().string()).id();
  CHECK(id.size() == 16);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(TextEncoder::load(a.path().string()).id() == id);  // stable
  CHECK(TextEncoder::load(b.path().string()).id() != id);  // other weights
  write_st_layout(a.path(), R"("pooling_mode_cls_token": true)", true);
  CHECK(TextEncoder::load(a.path().string()).id() != id);  // other pooling
}

TEST_CASE("directories that are not encoders are refused with the reason", "[text_encoder]") {
  TempDir dir("encoder");
  const std::string path = dir.path().string();
  CHECK_THROWS_WITH(TextEncoder::load(dir / "missing"), Catch::Contains("missing: not a directory"));
  CHECK_THROWS_WITH(TextEncoder::load(path), Catch::Contains(path + ": not an encoder model directory (no config.json)"));
  write_file(dir / "config.json", tiny_bert().to_json_string());
  write_file(dir / "pytorch_model.bin", "");
  CHECK_THROWS_WITH(TextEncoder::load(path),
                    Catch::Contains("no model.safetensors") && Catch::Contains("pytorch_model.bin is not read"));

  make_model_dir(dir.path(), 3);
  write_st_layout(dir.path(), R"("pooling_mode_mean_sqrt_len_tokens": true)", true);
  CHECK_THROWS_WITH(TextEncoder::load(path), Catch::Contains("pooling_mode_mean_sqrt_len_tokens is not supported"));
  write_st_layout(dir.path(), R"("pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true)", true);
  CHECK_THROWS_WITH(TextEncoder::load(path), Catch::Contains("exactly one of"));
  write_file(dir / "modules.json", R"([{"path": "", "type": "sentence_transformers.models.Transformer"},
    {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}])");
  CHECK_THROWS_WITH(TextEncoder::load(path),
                    Catch::Contains("module type 'sentence_transformers.models.Dense' is not supported"));
  write_st_layout(dir.path(), R"("pooling_mode_mean_tokens": true)", true);
  write_file(dir / "sentence_bert_config.json", R"({"max_seq_length": 32, "do_lower_case": true})");
  CHECK_THROWS_WITH(TextEncoder::load(path), Catch::Contains("do_lower_case is not supported"));
}

TEST_CASE("on a GPU the embeddings equal the CPU's", "[text_encoder][gpu]") {
  if (test::skip_unless_gpu(torch::cuda::is_available())) return;  // CPU-only: nothing to compare
  TempDir dir("encoder");
  make_model_dir(dir.path(), 9);
  std::vector<std::string> texts = kTinyTexts;
  texts.push_back(long_tiny_text());
  const auto cpu = TextEncoder::load(dir.path().string()).encode(texts, 2);
  const auto gpu = TextEncoder::load(dir.path().string(), "cuda").encode(texts, 2);
  CHECK(gpu.device().is_cpu());
  CHECK((gpu - cpu).abs().max().item<double>() < 1e-4);
}
