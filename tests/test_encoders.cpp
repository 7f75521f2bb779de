// The encoders and the QA model: shapes, padding invariance, save/load round trips,
// long inputs, and clear errors on bad checkpoints.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "longqa/qa_model.h"
#include "longqa/safetensors.h"
#include "test_util.h"

using namespace longqa;

namespace {

ModelConfig tiny_config(const std::string& type) {
  ModelConfig c;
  c.model_type = type;
  c.vocab_size = 211;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 64;
  c.max_position_embeddings = 256;
  c.block_size = 8;
  c.pack_size = 4;
  c.max_seq_length = 4096;
  return c;
}

EncoderInput random_input(int64_t batch, int64_t n, const std::vector<int64_t>& lengths, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto ids = at::randint(5, 211, {batch, n}, gen, at::kLong);
  auto types = at::zeros({batch, n}, at::kLong);
  auto valid = at::zeros({batch, n}, at::kBool);
  for (int64_t b = 0; b < batch; ++b) {
    valid[b].narrow(0, 0, lengths[b]).fill_(true);
    types[b].narrow(0, lengths[b] / 2, lengths[b] - lengths[b] / 2).fill_(1);
  }
  return {ids, types, valid};
}

}  // namespace

TEST_CASE("both encoders: logits of a sequence do not depend on the padding around it", "[encoder]") {
  for (const std::string type : {"littlebird", "bert"}) {
    INFO(type);
    c10::InferenceMode guard;
    const auto model = QaModel::random(tiny_config(type), 7);
    // Lengths that are not multiples of the block, shorter than three blocks, and long.
    const auto batch = random_input(3, 77, {77, 30, 5}, 1);
    const auto logits = model.forward(batch);
    REQUIRE(logits.start.sizes() == at::IntArrayRef({3, 77}));
    for (int64_t b = 0; b < 3; ++b) {
      const int64_t len = batch.valid[b].sum().item<int64_t>();
      const auto alone = model.forward({batch.input_ids[b].narrow(0, 0, len).unsqueeze(0),
                                        batch.token_type_ids[b].narrow(0, 0, len).unsqueeze(0),
                                        batch.valid[b].narrow(0, 0, len).unsqueeze(0)});
      CHECK(at::allclose(alone.start[0], logits.start[b].narrow(0, 0, len), 1e-4, 1e-5));
      CHECK(at::allclose(alone.end[0], logits.end[b].narrow(0, 0, len), 1e-4, 1e-5));
      if (len < 77) CHECK(at::isinf(logits.start[b].narrow(0, len, 77 - len)).all().item<bool>());
    }
  }
}

TEST_CASE("a model written by the safetensors writer reads back with identical logits", "[encoder]") {
  for (const std::string type : {"littlebird", "bert"}) {
    INFO(type);
    test::TempDir dir;
    const auto model = QaModel::random(tiny_config(type), 3);
    model.save(dir.path().string());
    const auto loaded = QaModel::load(dir.path().string());
    CHECK(loaded.parameters().size() == model.parameters().size());
    c10::InferenceMode guard;
    const auto input = random_input(2, 40, {40, 21}, 5);
    const auto a = model.forward(input), b = loaded.forward(input);
    CHECK(at::equal(a.start, b.start));
    CHECK(at::equal(a.end, b.end));
  }
}

TEST_CASE("weights stored as float16 or bfloat16 load as float32, rounded, with logits close to the original",
          "[encoder]") {
  const auto model = QaModel::random(tiny_config("littlebird"), 4);
  test::TempDir full, half, brain;
  model.save(full.path().string());
  model.save(half.path().string(), at::kHalf);
  model.save(brain.path().string(), at::kBFloat16);
  CHECK_THROWS_AS(model.save(full.path().string(), at::kInt), std::invalid_argument);
  const auto bytes = [](const test::TempDir& d) { return std::filesystem::file_size(d.path() / "model.safetensors"); };
  CHECK(bytes(half) < bytes(full) * 0.55);
  CHECK(bytes(brain) < bytes(full) * 0.55);
  CHECK(Checkpoint(half.path().string()).info("qa_outputs.weight").dtype == "F16");
  c10::InferenceMode guard;
  const auto input = random_input(2, 40, {40, 21}, 5);
  const auto reference = model.forward(input);
  for (const auto* d : {&half, &brain}) {
    const auto loaded = QaModel::load(d->path().string());
    for (const auto& [name, p] : loaded.parameters()) {
      INFO(name);
      REQUIRE(p.scalar_type() == at::kFloat);
      const auto& original = model.parameters().at(name);
      CHECK(at::equal(p, original.to(d == &half ? at::kHalf : at::kBFloat16).to(at::kFloat)));
    }
    const auto logits = loaded.forward(input);
    const auto valid = input.valid;
    const double tolerance = d == &half ? 2e-2 : 1e-1;
    CHECK(at::max(at::abs(logits.start.masked_select(valid) - reference.start.masked_select(valid))).item<double>() <
          tolerance);
  }
}

TEST_CASE("an int8 model quantizes the linear layers per output channel and its logits stay close to float32",
          "[encoder]") {
  for (const std::string type : {"littlebird", "bert"}) {
    INFO(type);
    auto config = tiny_config(type);
    config.hidden_size = 64;
    config.intermediate_size = 128;
    const auto model = QaModel::random(config, 21);
    const auto int8 = model.quantized_int8();
    CHECK(int8.is_int8());
    CHECK_FALSE(model.is_int8());
    const std::string prefix = config.weight_prefix();
    const std::string query = prefix + ".encoder.layer.0.attention.self.query.weight";
    const auto& q = int8.parameters().at(query);
    REQUIRE(q.is_quantized());
    CHECK(q.qscheme() == at::kPerChannelAffine);
    CHECK_FALSE(int8.parameters().at(prefix + ".embeddings.word_embeddings.weight").is_quantized());
    CHECK_FALSE(int8.parameters().at("qa_outputs.weight").is_quantized());  // the 2-output head stays float
    // Dequantized, each weight is within half a step of the original.
    const auto& original = model.parameters().at(query);
    const auto step = original.abs().amax({1}, true) / 127.0;
    CHECK((q.dequantize() - original).abs().le(step * 0.5 + 1e-7).all().item<bool>());
    CHECK_THROWS_WITH(int8.save(test::TempDir().path().string()), Catch::Contains("inference only"));
    CHECK(at::equal(int8.converted(at::kFloat).parameters().at(query),
                    q.dequantize()));

    c10::InferenceMode guard;
    const auto input = random_input(2, 200, {200, 123}, 3);
    const auto reference = model.forward(input), quantized = int8.forward(input), again = int8.forward(input);
    const auto valid = input.valid;
    const double scale = reference.start.masked_select(valid).abs().max().item<double>();
    const double diff =
        (quantized.start.masked_select(valid) - reference.start.masked_select(valid)).abs().max().item<double>();
    CHECK(diff > 0.0);  // it really computes in int8
    CHECK(diff < 0.05 * scale);
    CHECK(at::equal(quantized.start, again.start));  // the cached packed weights give the same answer
  }
}

TEST_CASE("LittleBird reads far beyond any position table, and global information flows through the pack",
          "[encoder]") {
  c10::InferenceMode guard;
  auto config = tiny_config("littlebird");
  const auto model = QaModel::random(config, 11);
  const int64_t n = 2000;  // > max_position_embeddings, 250 blocks
  auto input = random_input(1, n, {n}, 2);
  const auto before = model.forward(input);
  CHECK(at::isfinite(before.start).all().item<bool>());
  // Tokens 1000.. are outside every window of token 1 (block 0); only the packed context can
  // carry them there. (A random tiny model's pack is weak: one changed token of 2000 can move
  // token 1's logit by less than float32 resolution; a thousand move block 0's logits.)
  auto far = input.input_ids[0].narrow(0, 1000, n - 1000);
  far.copy_((far + 1 - 5).remainder(206) + 5);
  const auto after = model.forward(input);
  CHECK(at::equal(after.start[0].narrow(0, 1, 7), before.start[0].narrow(0, 1, 7)) == false);
}

TEST_CASE("bert refuses sequences longer than its position table", "[encoder]") {
  const auto model = QaModel::random(tiny_config("bert"), 1);
  const auto input = random_input(1, 300, {300}, 1);
  CHECK_THROWS_WITH(model.forward(input), Catch::Contains("max_position_embeddings"));
}

TEST_CASE("bad checkpoints fail with a message naming the file and the tensor", "[encoder]") {
  test::TempDir dir;
  const auto model = QaModel::random(tiny_config("bert"), 1);
  model.save(dir.path().string());
  const std::string file = dir / "model.safetensors";
  auto tensors = model.parameters();

  SECTION("missing tensor") {
    tensors.erase("bert.encoder.layer.1.output.dense.weight");
    save_safetensors(file, tensors);
    CHECK_THROWS_WITH(QaModel::load(dir.path().string()),
                      Catch::Contains("bert.encoder.layer.1.output.dense.weight"));
  }
  SECTION("wrong shape") {
    tensors["qa_outputs.weight"] = at::zeros({3, 32});
    save_safetensors(file, tensors);
    CHECK_THROWS_WITH(QaModel::load(dir.path().string()),
                      Catch::Contains("qa_outputs.weight") && Catch::Contains("model.safetensors"));
  }
  SECTION("unexpected tensor") {
    tensors["bert.encoder.layer.7.output.dense.weight"] = at::zeros({2, 2});
    save_safetensors(file, tensors);
    CHECK_THROWS_WITH(QaModel::load(dir.path().string()),
                      Catch::Contains("unexpected") && Catch::Contains("bert.encoder.layer.7.output.dense.weight"));
  }
  SECTION("ignorable extras load") {
    tensors["bert.pooler.dense.weight"] = at::zeros({32, 32});
    save_safetensors(file, tensors);
    CHECK_NOTHROW(QaModel::load(dir.path().string()));
  }
  SECTION("fp16 checkpoint converts to float32 on load") {
    for (auto& [name, t] : tensors) t = t.to(at::kHalf);
    save_safetensors(file, tensors);
    const auto loaded = QaModel::load(dir.path().string());
    CHECK(loaded.parameters().at("qa_outputs.weight").scalar_type() == at::kFloat);
  }
}
