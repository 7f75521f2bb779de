// ModelConfig: Hugging Face config.json parsing, validation and round trips.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>

#include "longqa/common/errors.h"
#include "longqa/model_config.h"
#include "longqa/qa_model.h"
#include "longqa/safetensors.h"
#include "test_util.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using longqa::ModelConfig;

namespace {

// bert-base-uncased's config.json as Hugging Face writes it, extra keys included.
const char* kBertBase = R"({
  "architectures": ["BertForMaskedLM"],
  "attention_probs_dropout_prob": 0.1,
  "classifier_dropout": null,
  "gradient_checkpointing": false,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1,
  "hidden_size": 768,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "layer_norm_eps": 1e-12,
  "max_position_embeddings": 512,
  "model_type": "bert",
  "num_attention_heads": 12,
  "num_hidden_layers": 12,
  "pad_token_id": 0,
  "position_embedding_type": "absolute",
  "transformers_version": "4.44.0",
  "type_vocab_size": 2,
  "use_cache": true,
  "vocab_size": 30522
})";

// google/electra-small-discriminator's config.json.
const char* kElectraSmall = R"({
  "architectures": ["ElectraForPreTraining"],
  "attention_probs_dropout_prob": 0.1,
  "embedding_size": 128,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1,
  "hidden_size": 256,
  "initializer_range": 0.02,
  "intermediate_size": 1024,
  "layer_norm_eps": 1e-12,
  "max_position_embeddings": 512,
  "model_type": "electra",
  "num_attention_heads": 4,
  "num_hidden_layers": 12,
  "pad_token_id": 0,
  "type_vocab_size": 2,
  "vocab_size": 30522
})";

const char* kLittleBird = R"({
  "model_type": "littlebird",
  "vocab_size": 32000,
  "hidden_size": 512,
  "num_hidden_layers": 8,
  "num_attention_heads": 8,
  "intermediate_size": 2048,
  "hidden_act": "gelu_new",
  "layer_norm_eps": 1e-6,
  "pad_token_id": 3,
  "block_size": 128,
  "pack_size": 32,
  "max_seq_length": 16384
})";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  FAIL("no exception thrown");
  return "";
}

// `base` (a JSON object) with `key` set to the JSON text `value`.
std::string with(const char* base, const std::string& key, const std::string& value) {
  auto j = nlohmann::json::parse(base);
  j[key] = nlohmann::json::parse(value);
  return j.dump();
}

}  // namespace

TEST_CASE("parses a Hugging Face BERT config", "[model_config]") {
  const ModelConfig c = ModelConfig::from_json_string(kBertBase);
  CHECK(c.model_type == "bert");
  CHECK(c.vocab_size == 30522);
  CHECK(c.hidden_size == 768);
  CHECK(c.num_hidden_layers == 12);
  CHECK(c.num_attention_heads == 12);
  CHECK(c.intermediate_size == 3072);
  CHECK(c.type_vocab_size == 2);
  CHECK(c.max_position_embeddings == 512);
  CHECK(c.embedding_size == -1);
  CHECK(c.layer_norm_eps == 1e-12);
  CHECK(c.hidden_act == "gelu");
  CHECK(c.initializer_range == 0.02);
  CHECK(c.pad_token_id == 0);
  CHECK(c.head_dim() == 64);
  CHECK_FALSE(c.is_littlebird());
  CHECK(c.weight_prefix() == "bert");
  CHECK(c.max_window_tokens() == 512);
}

TEST_CASE("absent keys keep the defaults", "[model_config]") {
  CHECK(ModelConfig::from_json_string(R"({"model_type": "littlebird"})") == ModelConfig{});
  const ModelConfig c = ModelConfig::from_json_string(R"({"model_type": "bert", "pad_token_id": null})");
  CHECK(c.pad_token_id == 0);
  CHECK(c.hidden_size == ModelConfig{}.hidden_size);
}

TEST_CASE("electra: embedding_size, defaulting to hidden_size", "[model_config]") {
  const ModelConfig small = ModelConfig::from_json_string(kElectraSmall);
  CHECK(small.model_type == "electra");
  CHECK(small.embedding_size == 128);
  CHECK(small.hidden_size == 256);
  CHECK(small.weight_prefix() == "electra");
  CHECK(small.max_window_tokens() == 512);

  auto j = nlohmann::json::parse(kElectraSmall);
  j.erase("embedding_size");
  CHECK(ModelConfig::from_json_string(j.dump()).embedding_size == 256);
}

TEST_CASE("littlebird keys", "[model_config]") {
  const ModelConfig c = ModelConfig::from_json_string(kLittleBird);
  CHECK(c.is_littlebird());
  CHECK(c.block_size == 128);
  CHECK(c.pack_size == 32);
  CHECK(c.max_seq_length == 16384);
  CHECK(c.hidden_act == "gelu_new");
  CHECK(c.layer_norm_eps == 1e-6);
  CHECK(c.pad_token_id == 3);
  CHECK(c.weight_prefix() == "littlebird");
  CHECK(c.max_window_tokens() == 16384);
  CHECK(c.position_embedding_type == "none");
  CHECK(!c.has_cyclic_positions());
  // position_embedding_type: BERT's "absolute" is no LittleBird choice; "cyclic" round-trips.
  auto with_positions = [](const std::string& type) {
    std::string text = kLittleBird;
    text.insert(text.find('{') + 1, "\"position_embedding_type\": \"" + type + "\", ");
    return text;
  };
  const ModelConfig cyclic = ModelConfig::from_json_string(with_positions("cyclic"));
  CHECK(cyclic.has_cyclic_positions());
  CHECK(ModelConfig::from_json_string(cyclic.to_json_string()) == cyclic);
  CHECK(cyclic != c);
  CHECK_THROWS_WITH(ModelConfig::from_json_string(with_positions("absolute")),
                    Contains("position_embedding_type") && Contains("none, cyclic"));
  CHECK(ModelConfig::from_json_string(kBertBase).position_embedding_type == "none");

  // bialibi_max_distance: 0 (no cap) unless set; round-trips; a negative cap is refused.
  CHECK(c.bialibi_max_distance == 0);
  CHECK(c.to_json_string().find("bialibi_max_distance") == std::string::npos);
  auto with_cap = [](const std::string& value) {
    std::string text = kLittleBird;
    text.insert(text.find('{') + 1, "\"bialibi_max_distance\": " + value + ", ");
    return text;
  };
  const ModelConfig capped = ModelConfig::from_json_string(with_cap("2048"));
  CHECK(capped.bialibi_max_distance == 2048);
  CHECK(ModelConfig::from_json_string(capped.to_json_string()) == capped);
  CHECK(capped != c);
  CHECK_THROWS_WITH(ModelConfig::from_json_string(with_cap("-1")), Contains("bialibi_max_distance"));
  CHECK_THROWS_WITH(ModelConfig::from_json_string(with_cap("\"far\"")), Contains("bialibi_max_distance"));
}

TEST_CASE("roberta / xlm-roberta / big_bird keys and Hugging Face defaults", "[model_config]") {
  const ModelConfig r = ModelConfig::from_json_string(
      R"({"model_type": "xlm-roberta", "max_position_embeddings": 514, "type_vocab_size": 1})");
  CHECK(r.pad_token_id == 1);  // XLMRobertaConfig's default: also the position padding_idx
  CHECK(r.weight_prefix() == "roberta");
  CHECK(r.max_window_tokens() == 512);
  CHECK(ModelConfig::from_json_string(R"({"model_type": "roberta", "pad_token_id": 0, "max_position_embeddings": 100})")
            .max_window_tokens() == 99);
  CHECK_THAT(error_of([] { ModelConfig::from_json_string(R"({"model_type": "roberta", "max_position_embeddings": 2})", "r.json"); }),
             Contains("r.json") && Contains("max_position_embeddings"));

  const ModelConfig b = ModelConfig::from_json_string(R"({"model_type": "big_bird", "block_size": 32})");
  CHECK(b.weight_prefix() == "bert");  // BigBirdForQuestionAnswering.bert
  CHECK(b.attention_type == "block_sparse");
  CHECK(b.num_random_blocks == 3);
  CHECK(b.hidden_act == "gelu_new");
  CHECK(b.max_position_embeddings == 4096);
  CHECK(b.max_window_tokens() == 4096);
  CHECK(b.sep_token_id == 66);
  CHECK(b.block_size == 32);
  CHECK_THAT(error_of([] { ModelConfig::from_json_string(R"({"model_type": "big_bird", "attention_type": "sparse"})", "b.json"); }),
             Contains("b.json") && Contains("attention_type") && Contains("original_full"));
  CHECK_THAT(error_of([] { ModelConfig::from_json_string(R"({"model_type": "big_bird", "use_bias": false})", "b.json"); }),
             Contains("b.json") && Contains("use_bias"));
  CHECK_THAT(error_of([] { ModelConfig::from_json_string(R"({"model_type": "big_bird", "use_bias": 1})", "b.json"); }),
             Contains("b.json") && Contains("'use_bias'"));
  for (const ModelConfig& c : {r, b}) {
    CHECK(ModelConfig::from_json_string(c.to_json_string()) == c);
  }
  ModelConfig full = b;
  full.attention_type = "original_full";
  full.num_random_blocks = 2;
  full.rescale_embeddings = true;
  CHECK(ModelConfig::from_json_string(full.to_json_string()) == full);
  CHECK(nlohmann::json::parse(full.to_json_string())["architectures"][0] == "BigBirdForQuestionAnswering");
  CHECK(nlohmann::json::parse(r.to_json_string())["architectures"][0] == "XLMRobertaForQuestionAnswering");
}

TEST_CASE("longformer and modernbert configs: HF's keys, defaults, round trip and refusals", "[model_config]") {
  auto lf = nlohmann::json::parse(kBertBase);
  lf["model_type"] = "longformer";
  lf["attention_window"] = 256;
  lf["max_position_embeddings"] = 4098;
  lf.erase("pad_token_id");  // LongformerConfig's defaults: pad 1, sep 2
  const auto l = ModelConfig::from_json_string(lf.dump());
  CHECK(l.pad_token_id == 1);
  CHECK(l.sep_token_id == 2);
  CHECK(l.attention_window_of(5) == 256);
  CHECK(l.max_window_tokens() == 4096);
  CHECK(ModelConfig::from_json_string(l.to_json_string()) == l);
  lf["attention_window"] = {256, 512};  // two values for twelve layers
  CHECK_THAT(error_of([&] { ModelConfig::from_json_string(lf.dump(), "lf/config.json"); }),
             Contains("lf/config.json") && Contains("attention_window"));
  lf["attention_window"] = 255;
  CHECK_THAT(error_of([&] { ModelConfig::from_json_string(lf.dump()); }), Contains("even"));

  const nlohmann::json mb = {{"model_type", "modernbert"},
                             {"hidden_size", 64},
                             {"num_hidden_layers", 4},
                             {"num_attention_heads", 2},
                             {"intermediate_size", 96},
                             {"vocab_size", 1000},
                             {"pad_token_id", 3},
                             {"hidden_activation", "gelu_pytorch_tanh"},
                             {"norm_eps", 1e-6},
                             {"global_rope_theta", 80000.0},
                             {"global_attn_every_n_layers", 2}};
  const auto m = ModelConfig::from_json_string(mb.dump());
  CHECK(m.hidden_act == "gelu_pytorch_tanh");
  CHECK(m.layer_norm_eps == 1e-6);
  CHECK(m.global_rope_theta == 80000.0);
  CHECK(m.local_rope_theta == 10000.0);
  CHECK(m.is_global_layer(0));
  CHECK_FALSE(m.is_global_layer(1));
  CHECK(m.is_global_layer(2));
  CHECK(m.max_window_tokens() == 8192);
  CHECK(m.type_vocab_size == 1);
  CHECK(ModelConfig::from_json_string(m.to_json_string()) == m);
  const auto written = nlohmann::json::parse(m.to_json_string());
  CHECK(written["architectures"][0] == "ModernBertForQuestionAnswering");
  CHECK(written["rope_parameters"]["full_attention"]["rope_theta"] == 80000.0);
  auto bad = mb;
  bad["rope_parameters"] = {{"full_attention", {{"rope_type", "yarn"}, {"rope_theta", 1.0}}}};
  CHECK_THAT(error_of([&] { ModelConfig::from_json_string(bad.dump(), "mb/config.json"); }),
             Contains("mb/config.json") && Contains("rope_type") && Contains("yarn"));
  bad = mb;
  bad["layer_types"] = {"full_attention", "chunked_attention", "full_attention", "full_attention"};
  CHECK_THAT(error_of([&] { ModelConfig::from_json_string(bad.dump()); }), Contains("chunked_attention"));
}

TEST_CASE("unknown or missing model_type is refused", "[model_config]") {
  CHECK_THAT(error_of([] { ModelConfig::from_json_string(with(kBertBase, "model_type", R"("funnel")"), "my/config.json"); }),
             Contains("my/config.json") && Contains("funnel") &&
                 Contains("littlebird, bert, electra, roberta, xlm-roberta, big_bird, longformer, modernbert"));
  auto j = nlohmann::json::parse(kBertBase);
  j.erase("model_type");
  CHECK_THAT(error_of([&] { ModelConfig::from_json_string(j.dump()); }), Contains("model_type"));
}

TEST_CASE("wrong JSON types name the file and the key", "[model_config]") {
  const std::pair<const char*, const char*> cases[] = {
      {"hidden_size", R"("768")"}, {"num_hidden_layers", "12.5"}, {"layer_norm_eps", R"("1e-12")"},
      {"hidden_act", "3"},         {"block_size", "[64]"},        {"model_type", "true"},
  };
  for (const auto& [key, value] : cases) {
    INFO(key);
    CHECK_THAT(error_of([&] { ModelConfig::from_json_string(with(kBertBase, key, value), "ckpt/config.json"); }),
               Contains("ckpt/config.json") && Contains(std::string("'") + key + "'"));
  }
  CHECK_THAT(error_of([] { ModelConfig::from_json_string("{not json", "x.json"); }), Contains("x.json"));
  CHECK_THAT(error_of([] { ModelConfig::from_json_string("[1]", "x.json"); }), Contains("x.json"));
}

TEST_CASE("validate refuses inconsistent configs", "[model_config]") {
  const std::pair<const char*, const char*> cases[] = {
      {"num_attention_heads", "7"},  // 768 % 7
      {"hidden_size", "0"},
      {"vocab_size", "-1"},
      {"block_size", "0"},
      {"pack_size", "0"},
      {"hidden_act", R"("swish")"},
      {"embedding_size", "0"},
      {"pad_token_id", "30522"},
      {"layer_norm_eps", "0"},
  };
  for (const auto& [key, value] : cases) {
    INFO(key << " = " << value);
    const std::string text = with(kBertBase, key, value);
    CHECK_THAT(error_of([&] { ModelConfig::from_json_string(text, "c.json"); }), Contains("c.json"));
  }
  ModelConfig c;
  c.num_attention_heads = 5;
  CHECK_THAT(error_of([&] { c.validate(); }), Contains("num_attention_heads"));
  c = ModelConfig{};
  c.hidden_act = "swish";
  CHECK_THAT(error_of([&] { c.validate(); }), Contains("swish") && Contains("gelu_pytorch_tanh"));
  c = ModelConfig{};
  CHECK_NOTHROW(c.validate());
  c.model_type = "gpt2";
  CHECK_THAT(error_of([&] { c.validate(); }), Contains("gpt2"));
  CHECK_THAT(error_of([&] { (void)c.weight_prefix(); }), Contains("gpt2"));
}

TEST_CASE("configs round-trip through JSON and files", "[model_config]") {
  for (const char* text : {kBertBase, kElectraSmall, kLittleBird}) {
    const ModelConfig c = ModelConfig::from_json_string(text);
    const std::string written = c.to_json_string();
    CHECK(ModelConfig::from_json_string(written) == c);
    const auto j = nlohmann::json::parse(written);
    const char* architecture = c.model_type == "bert"      ? "BertForQuestionAnswering"
                               : c.model_type == "electra" ? "ElectraForQuestionAnswering"
                                                           : "LittleBirdForQuestionAnswering";
    CHECK(j["architectures"] == nlohmann::json::array({architecture}));
    CHECK(j["model_type"] == c.model_type);
    CHECK(j["hidden_size"] == c.hidden_size);
  }
  ModelConfig changed;
  changed.layer_norm_eps = 1e-5 / 3;  // not short in decimal
  changed.initializer_range = 0.1 + 0.2;
  CHECK(ModelConfig::from_json_string(changed.to_json_string()) == changed);

  std::string dir_pattern = (fs::temp_directory_path() / "longqa_cfg_XXXXXX").string();
  REQUIRE(::mkdtemp(dir_pattern.data()) != nullptr);
  const fs::path dir = dir_pattern;
  const std::string path = (dir / "config.json").string();
  const ModelConfig electra = ModelConfig::from_json_string(kElectraSmall);
  electra.save(path);
  changed.save(path);  // replaces it
  CHECK(ModelConfig::from_json_file(path) == changed);
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);  // no temp file left
  fs::remove(path);
  fs::remove(dir);

  CHECK_THAT(error_of([&] { ModelConfig::from_json_file(path); }), Contains(path));
  CHECK_THAT(error_of([&] { changed.save((dir / "gone" / "config.json").string()); }), Contains("config.json"));
}

// Every loader of a model directory refuses a bad file the same way: FileFormatError,
// naming the file (the CLI exits 3 on it).
TEST_CASE("bad config.json, safetensors and model directories raise one error type", "[model_config][errors]") {
  longqa::test::TempDir dir("longqa-bad-files");
  const fs::path config = dir / "config.json", weights = dir / "model.safetensors";
  std::ofstream(config) << "{\"model_type\": \"bert\", \"hidden_size\": ";
  std::ofstream(weights) << "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":";
  auto file_of = [](const std::function<void()>& load) -> std::string {
    try {
      load();
    } catch (const longqa::FileFormatError& e) {
      return e.path();
    } catch (const std::exception& e) {
      return std::string("another exception: ") + e.what();
    }
    return "no exception";
  };
  CHECK(file_of([&] { ModelConfig::from_json_file(config.string()); }) == config.string());
  CHECK(file_of([&] { longqa::SafetensorsFile file(weights.string()); }) == weights.string());
  const std::string missing = dir / "missing";
  CHECK(file_of([&] { longqa::QaModel::load(missing); }) == missing);
  CHECK(file_of([&] { longqa::QaModel::load(dir.path().string()); }) == config.string());
}
