// longqa's bert encoder against Hugging Face transformers on the same checkpoints
// (made by tests/hf/model_fixtures.py): the same start/end logits, both ways.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "longqa/qa_model.h"
#include "longqa/safetensors.h"
#include "longqa/training/convert.h"

namespace fs = std::filesystem;
using namespace longqa;

namespace {

const fs::path kFixtures = LONGQA_HF_FIXTURES;

// Max |ours - HF| over the real (unpadded) tokens.
double max_logit_difference(const QaModel& model, const fs::path& reference_file) {
  SafetensorsFile ref(reference_file.string());
  auto valid = ref.get("attention_mask").to(at::kBool);
  c10::InferenceMode guard;
  auto logits = model.forward({ref.get("input_ids"), ref.get("token_type_ids"), valid});
  auto start_diff = (logits.start - ref.get("start_logits")).masked_select(valid).abs().max();
  auto end_diff = (logits.end - ref.get("end_logits")).masked_select(valid).abs().max();
  return std::max(start_diff.item<double>(), end_diff.item<double>());
}

}  // namespace

TEST_CASE("HF BertForQuestionAnswering loads unchanged and gives the same logits", "[hf]") {
  const auto model = QaModel::load((kFixtures / "bert_qa").string());
  CHECK(model.config().model_type == "bert");
  CHECK(max_logit_difference(model, kFixtures / "bert_qa_reference.safetensors") <= 1e-4);
}

TEST_CASE("a sharded HF checkpoint loads to the same model", "[hf]") {
  REQUIRE(fs::exists(kFixtures / "bert_qa_sharded" / "model.safetensors.index.json"));
  const auto model = QaModel::load((kFixtures / "bert_qa_sharded").string());
  CHECK(max_logit_difference(model, kFixtures / "bert_qa_reference.safetensors") <= 1e-4);
}

TEST_CASE("HF ElectraForQuestionAnswering (embedding projection) gives the same logits", "[hf]") {
  const auto model = QaModel::load((kFixtures / "electra_qa").string());
  CHECK(model.config().model_type == "electra");
  CHECK(max_logit_difference(model, kFixtures / "electra_qa_reference.safetensors") <= 1e-4);
}

TEST_CASE("a model saved by longqa loads in transformers with the same logits", "[hf]") {
  for (const std::string name : {"bert_qa", "electra_qa"}) {
    const fs::path out = kFixtures / ("resaved_by_longqa_" + name);
    QaModel::load((kFixtures / name).string()).save(out.string());
    const std::string command = std::string("\"") + LONGQA_PYTHON + "\" \"" + LONGQA_SOURCE_DIR +
                                "/tests/hf/check_model.py\" \"" + out.string() + "\" \"" +
                                (kFixtures / (name + "_reference.safetensors")).string() + "\"";
    INFO(command);
    CHECK(std::system(command.c_str()) == 0);
  }
}

TEST_CASE("model convert --from-bert copies the shared weights into a LittleBird reader", "[hf][convert]") {
  ConvertOptions options;
  options.block_size = 16;
  options.pack_size = 8;
  options.max_seq_length = 1024;
  const auto bert = QaModel::load((kFixtures / "bert_qa").string());
  const auto lb = littlebird_from_bert((kFixtures / "bert_qa").string(), options);
  CHECK(lb.config().model_type == "littlebird");
  CHECK(lb.config().block_size == 16);
  const auto& b = bert.parameters();
  const auto& l = lb.parameters();
  CHECK(at::equal(l.at("littlebird.embeddings.word_embeddings.weight"), b.at("bert.embeddings.word_embeddings.weight")));
  CHECK(at::equal(l.at("littlebird.encoder.layer.1.attention.self.query.weight"),
                  b.at("bert.encoder.layer.1.attention.self.query.weight")));
  CHECK(at::equal(l.at("littlebird.encoder.layer.1.pack_attention.self.value.weight"),
                  b.at("bert.encoder.layer.1.attention.self.value.weight")));
  CHECK(at::equal(l.at("littlebird.encoder.layer.0.output.LayerNorm.bias"),
                  b.at("bert.encoder.layer.0.output.LayerNorm.bias")));
  CHECK(at::equal(l.at("qa_outputs.weight"), b.at("qa_outputs.weight")));
  for (const auto& [name, t] : l) CHECK(name.find("position_embeddings") == std::string::npos);
  // It reads inputs longer than BERT's 128 positions.
  c10::InferenceMode guard;
  auto ids = at::randint(5, 1000, {1, 300}, at::kLong);
  auto logits = lb.forward({ids, at::zeros_like(ids), at::ones({1, 300}, at::kBool)});
  CHECK(at::isfinite(logits.start).all().item<bool>());
}
