// longqa's encoders against Hugging Face transformers on the same checkpoints (made by
// tests/hf/model_fixtures.py and make_fixtures.py): the same start/end logits, both ways for bert and electra;
// RoBERTa, XLM-RoBERTa, BigBird (block-sparse, its full-attention fallback, original_full), Longformer and
// ModernBERT one way.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <fstream>
#include <nlohmann/json.hpp>

#include "longqa/qa_model.h"
#include "test_util.h"
#include "longqa/reader.h"
#include "longqa/safetensors.h"
#include "longqa/tokenizer.h"
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

// The best span (start <= end < start + max_length) over the real tokens of row b, by start + end logit.
std::pair<int64_t, int64_t> best_span(const at::Tensor& start, const at::Tensor& end, const at::Tensor& valid,
                                      int64_t b, int64_t max_length = 30) {
  const auto s = start[b].masked_fill(valid[b].logical_not(), -INFINITY);
  const auto e = end[b].masked_fill(valid[b].logical_not(), -INFINITY);
  const int64_t n = s.size(0);
  std::pair<int64_t, int64_t> best{-1, -1};
  double best_score = -INFINITY;
  for (int64_t k = 0; k < std::min(max_length, n); ++k) {
    const auto scores = s.narrow(0, 0, n - k) + e.narrow(0, k, n - k);
    const auto i = scores.argmax().item<int64_t>();
    const double score = scores[i].item<double>();
    if (score > best_score) best_score = score, best = {i, i + k};
  }
  return best;
}

// Logits against a reference file: max |ours - HF| over the real tokens that HF does not mask out (BigBird
// subtracts 1e6 on the question: there both must be below -1e5), and the same best span in every row.
struct Comparison {
  double max_difference = 0;
  bool same_masked = true;
  bool same_spans = true;
};

Comparison compare_with_reference(const QaModel& model, const fs::path& reference_file) {
  SafetensorsFile ref(reference_file.string());
  const auto valid = ref.get("attention_mask").to(at::kBool);
  c10::InferenceMode guard;
  const auto logits = model.forward({ref.get("input_ids"), ref.get("token_type_ids"), valid});
  Comparison c;
  for (const auto& [ours, theirs] : {std::pair{logits.start, ref.get("start_logits")},
                                     std::pair{logits.end, ref.get("end_logits")}}) {
    const auto masked = theirs.lt(-1e5).logical_and(valid);
    const auto compared = valid.logical_and(masked.logical_not());
    c.max_difference = std::max(c.max_difference, (ours - theirs).masked_select(compared).abs().max().item<double>());
    c.same_masked = c.same_masked && at::equal(ours.lt(-1e5).logical_and(valid), masked);
  }
  for (int64_t b = 0; b < valid.size(0); ++b) {
    const auto mine = best_span(logits.start, logits.end, valid, b);
    const auto hf = best_span(ref.get("start_logits"), ref.get("end_logits"), valid, b);
    INFO("row " << b << ": ours " << mine.first << ".." << mine.second << ", HF " << hf.first << ".." << hf.second);
    CHECK(mine == hf);
    c.same_spans = c.same_spans && mine == hf;
  }
  return c;
}

void check_family(const std::string& dir, const std::string& model_type, const std::vector<std::string>& references) {
  const auto model = QaModel::load((kFixtures / dir).string());
  CHECK(model.config().model_type == model_type);
  for (const auto& reference : references) {
    INFO(reference);
    const auto c = compare_with_reference(model, kFixtures / reference);
    std::printf("%s vs HF: max |logit difference| %.3g\n", reference.c_str(), c.max_difference);
    CHECK(c.max_difference <= 1e-4);
    CHECK(c.same_masked);
    CHECK(c.same_spans);
  }
}

}  // namespace

TEST_CASE("HF RobertaForQuestionAnswering: positions from padding_idx + 1 and one token type", "[hf][roberta]") {
  check_family("roberta_qa", "roberta", {"roberta_qa_reference.safetensors"});
  const auto model = QaModel::load((kFixtures / "roberta_qa").string());
  CHECK(model.config().pad_token_id == 1);
  CHECK(model.config().max_window_tokens() == 128);  // 130 positions - padding_idx 1 - 1
}

TEST_CASE("HF XLMRobertaForQuestionAnswering gives the same logits", "[hf][roberta]") {
  check_family("xlm_roberta_qa", "xlm-roberta", {"xlm_roberta_qa_reference.safetensors"});
}

TEST_CASE("HF BigBirdForQuestionAnswering block-sparse: documents of 1k-4k tokens and the full fallback",
          "[hf][big_bird]") {
  check_family("big_bird_qa", "big_bird",
               {"big_bird_qa_reference_ragged.safetensors", "big_bird_qa_reference_paper.safetensors",
                "big_bird_qa_reference_odd.safetensors", "big_bird_qa_reference_short.safetensors"});
  const auto model = QaModel::load((kFixtures / "big_bird_qa").string());
  CHECK(model.config().attention_type == "block_sparse");
  CHECK(model.config().block_size == 16);
  CHECK(model.parameters().count("qa_classifier.output.LayerNorm.weight") == 1);
}

TEST_CASE("HF LongformerForQuestionAnswering: per-layer windows, global attention on the question, 1k-4k tokens",
          "[hf][longformer]") {
  check_family("longformer_qa", "longformer",
               {"longformer_qa_reference_long.safetensors", "longformer_qa_reference_odd.safetensors"});
  const auto model = QaModel::load((kFixtures / "longformer_qa").string());
  CHECK(model.config().attention_window_of(0) == 32);
  CHECK(model.config().attention_window_of(1) == 64);
  CHECK(model.config().max_window_tokens() == 4096);  // 4098 positions - padding_idx 1 - 1
  CHECK(model.parameters().count("longformer.encoder.layer.1.attention.self.key_global.weight") == 1);
}

TEST_CASE("HF ModernBertForQuestionAnswering: local and global layers, RoPE, GeGLU, up to 8k tokens",
          "[hf][modernbert]") {
  check_family("modernbert_qa", "modernbert",
               {"modernbert_qa_reference_long.safetensors", "modernbert_qa_reference_ragged.safetensors"});
  const auto model = QaModel::load((kFixtures / "modernbert_qa").string());
  CHECK(model.config().is_global_layer(0));
  CHECK_FALSE(model.config().is_global_layer(1));
  CHECK(model.config().is_global_layer(3));
  CHECK(model.config().local_attention == 32);
  CHECK(model.parameters().count("model.layers.0.attn_norm.weight") == 0);  // layer 0 has none
  CHECK(model.parameters().count("model.embeddings.norm.bias") == 0);       // norm_bias false
}

TEST_CASE("HF ModernBERT with every bias and other activations", "[hf][modernbert]") {
  check_family("modernbert_bias_qa", "modernbert", {"modernbert_bias_qa_reference_ragged.safetensors"});
  const auto model = QaModel::load((kFixtures / "modernbert_bias_qa").string());
  CHECK(model.parameters().count("model.layers.1.attn.Wqkv.bias") == 1);
  CHECK(model.parameters().count("head.dense.bias") == 1);
}

TEST_CASE("HF BigBirdForQuestionAnswering with attention_type original_full", "[hf][big_bird]") {
  check_family("big_bird_full_qa", "big_bird", {"big_bird_full_qa_reference.safetensors"});
}

TEST_CASE("BigBird block-sparse attention reads 16k tokens without an n x n score matrix", "[big_bird]") {
  ModelConfig c;
  c.model_type = "big_bird";
  c.vocab_size = 500;
  c.hidden_size = 64;
  c.num_attention_heads = 4;
  c.num_hidden_layers = 1;
  c.intermediate_size = 128;
  c.max_position_embeddings = 16384;
  c.block_size = 64;
  c.sep_token_id = 66;
  const auto model = QaModel::random(c, 5);
  c10::InferenceMode guard;
  const int64_t n = 16384 - 10;  // padded to the block inside
  auto ids = at::randint(70, 500, {1, n}, at::kLong);
  ids[0][20] = 66;
  // Dense scores would be 4 heads x n^2 floats = 4.3 GB per layer; the blocked ones are 4 x n x 8 x 64.
  const auto logits = model.forward({ids, at::Tensor(), at::ones({1, n}, at::kBool)});
  CHECK(logits.start.size(1) == n);
  CHECK(at::isfinite(logits.start.narrow(1, 21, n - 21)).all().item<bool>());
  CHECK((logits.end.narrow(1, 1, 20) < -1e5).all().item<bool>());  // the question, up to its [SEP], is masked
}

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
  const std::pair<std::string, std::string> models[] = {
      {"bert_qa", "bert_qa_reference"},
      {"electra_qa", "electra_qa_reference"},
      {"roberta_qa", "roberta_qa_reference"},
      {"xlm_roberta_qa", "xlm_roberta_qa_reference"},
      {"big_bird_qa", "big_bird_qa_reference_ragged"},
      {"big_bird_full_qa", "big_bird_full_qa_reference"},
  };
  for (const auto& [name, reference] : models) {
    const fs::path out = kFixtures / ("resaved_by_longqa_" + name);
    QaModel::load((kFixtures / name).string()).save(out.string());
    const std::string command = std::string("\"") + LONGQA_PYTHON + "\" \"" + LONGQA_SOURCE_DIR +
                                "/tests/hf/check_model.py\" \"" + out.string() + "\" \"" +
                                (kFixtures / (reference + ".safetensors")).string() + "\"";
    INFO(command);
    CHECK(std::system(command.c_str()) == 0);
  }
}

TEST_CASE("model convert --from-bert copies the shared weights into a LittleBird reader", "[hf][convert]") {
  ConvertOptions options;
  options.block_size = 16;
  options.pack_size = 8;
  options.max_seq_length = 1024;
  options.positions = "none";
  const auto bert = QaModel::load((kFixtures / "bert_qa").string());
  const auto lb = littlebird_from_checkpoint((kFixtures / "bert_qa").string(), options);
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

TEST_CASE("model convert keeps the position table cyclically (or per block), and the model reads past it",
          "[hf][convert]") {
  ConvertOptions options;
  options.block_size = 16;
  options.pack_size = 8;
  options.max_seq_length = 2048;
  const auto bert = QaModel::load((kFixtures / "bert_qa").string());
  const auto& table = bert.parameters().at("bert.embeddings.position_embeddings.weight");
  const int64_t rows = bert.config().max_position_embeddings;
  // start logits (1, n) of ids repeating every `period` tokens
  auto start_logits = [](const QaModel& model, int64_t period, int64_t n) {
    c10::InferenceMode guard;
    auto ids = at::randint(5, 1000, {1, period}, at::kLong).repeat({1, n / period});
    return model.forward({ids, at::zeros_like(ids), at::ones({1, n}, at::kBool)}).start[0];
  };
  // Away from the first token (the BiALiBi [CLS] terms) two tokens see the same window, packed context and
  // position row exactly when they are a multiple of the table's period apart.
  auto same = [](const at::Tensor& logits, int64_t from, int64_t shift, int64_t count) {
    // (float32 sums over different key orders: ~2e-5 apart; a different position row: ~0.3)
    return at::allclose(logits.narrow(0, from, count), logits.narrow(0, from + shift, count), 1e-4, 1e-4);
  };
  SECTION("cyclic: the whole table, position i uses row i mod its rows") {
    at::manual_seed(1);
    const auto lb = littlebird_from_checkpoint((kFixtures / "bert_qa").string(), options);
    CHECK(lb.config().position_embedding_type == "cyclic");
    CHECK(lb.config().max_position_embeddings == rows);
    CHECK(at::equal(lb.parameters().at("littlebird.embeddings.position_embeddings.weight"), table));
    const auto logits = start_logits(lb, rows / 2, 8 * rows);
    CHECK(same(logits, 2 * rows, rows, rows));
    CHECK(!same(logits, 2 * rows, rows / 2, rows / 2));
    // The config says so when saved and loaded again.
    const fs::path dir = fs::temp_directory_path() / "longqa_cyclic_positions";
    lb.save(dir.string());
    CHECK(QaModel::load(dir.string()).config() == lb.config());
    fs::remove_all(dir);
  }
  SECTION("block: the first block_size rows, the position within each attention block") {
    options.positions = "block";
    at::manual_seed(2);
    const auto lb = littlebird_from_checkpoint((kFixtures / "bert_qa").string(), options);
    CHECK(lb.config().max_position_embeddings == options.block_size);
    CHECK(at::equal(lb.parameters().at("littlebird.embeddings.position_embeddings.weight"),
                    table.narrow(0, 0, options.block_size)));
    const auto logits = start_logits(lb, options.block_size, 4 * rows);
    CHECK(same(logits, rows, options.block_size, rows));
  }
  SECTION("none: no table, so any repeat of the ids repeats the output") {
    options.positions = "none";
    at::manual_seed(3);
    const auto lb = littlebird_from_checkpoint((kFixtures / "bert_qa").string(), options);
    CHECK(lb.config().position_embedding_type == "none");
    CHECK(lb.parameters().count("littlebird.embeddings.position_embeddings.weight") == 0);
    const auto logits = start_logits(lb, options.block_size, 4 * rows);
    CHECK(same(logits, rows, options.block_size, rows));
  }
  SECTION("BiALiBi's distance cap: in the config, a no-op up to it, a change past it") {
    options.bialibi_max_distance = 40;
    const auto capped = littlebird_from_checkpoint((kFixtures / "bert_qa").string(), options);
    CHECK(capped.config().bialibi_max_distance == 40);
    options.bialibi_max_distance = 0;
    const auto uncapped = littlebird_from_checkpoint((kFixtures / "bert_qa").string(), options);
    CHECK(uncapped.config().bialibi_max_distance == 0);
    c10::InferenceMode guard;
    at::manual_seed(4);
    auto logits = [](const QaModel& model, const at::Tensor& ids) {
      return model.forward({ids, at::zeros_like(ids), at::ones_like(ids, at::kBool)}).start[0];
    };
    const auto short_ids = at::randint(5, 1000, {1, 40}, at::kLong);  // no distance past 39
    CHECK(at::equal(logits(capped, short_ids), logits(uncapped, short_ids)));
    // Past it the far keys (block 0) weigh more; the same computation would be bit for bit equal.
    const auto long_ids = at::randint(5, 1000, {1, 800}, at::kLong);
    CHECK((logits(capped, long_ids) - logits(uncapped, long_ids)).abs().max().item<double>() > 1e-4);
  }
  SECTION("RoBERTa's table starts at padding_idx + 1; unknown choices are refused") {
    const auto roberta = QaModel::load((kFixtures / "reader_roberta").string());
    const auto lb = littlebird_from_checkpoint((kFixtures / "reader_roberta").string(), options);
    const int64_t first = roberta.config().pad_token_id + 1;
    CHECK(lb.config().max_position_embeddings == roberta.config().max_position_embeddings - first);
    CHECK(at::equal(lb.parameters().at("littlebird.embeddings.position_embeddings.weight"),
                    roberta.parameters().at("roberta.embeddings.position_embeddings.weight").narrow(
                        0, first, lb.config().max_position_embeddings)));
    options.positions = "learned";
    CHECK_THROWS_WITH(littlebird_from_checkpoint((kFixtures / "bert_qa").string(), options),
                      Catch::Contains("cyclic, block or none"));
  }
}

TEST_CASE("model convert from RoBERTa, XLM-R, BigBird and Longformer; ModernBERT refused with why", "[hf][convert]") {
  ConvertOptions options;
  options.block_size = 16;
  options.pack_size = 8;
  options.max_seq_length = 2048;
  for (const std::string dir : {"reader_roberta", "reader_xlm-roberta", "reader_big_bird", "reader_longformer"}) {
    INFO(dir);
    const auto source = QaModel::load((kFixtures / dir).string());
    const auto lb = littlebird_from_checkpoint((kFixtures / dir).string(), options);
    const auto& s = source.parameters();
    const auto& l = lb.parameters();
    const std::string prefix = source.config().weight_prefix() + ".";
    CHECK(lb.config().type_vocab_size == source.config().type_vocab_size);
    CHECK(lb.config().pad_token_id == source.config().pad_token_id);
    CHECK(at::equal(l.at("littlebird.embeddings.word_embeddings.weight"), s.at(prefix + "embeddings.word_embeddings.weight")));
    CHECK(at::equal(l.at("littlebird.encoder.layer.1.intermediate.dense.weight"),
                    s.at(prefix + "encoder.layer.1.intermediate.dense.weight")));
    const std::string pack_source = source.config().model_type == "longformer" ? "key_global" : "key";
    CHECK(at::equal(l.at("littlebird.encoder.layer.0.pack_attention.self.key.weight"),
                    s.at(prefix + "encoder.layer.0.attention.self." + pack_source + ".weight")));
    // The converted reader reads past the source's positions, with the source's tokenizer and pair template.
    const Reader reader(std::make_shared<QaModel>(littlebird_from_checkpoint((kFixtures / dir).string(), options)),
                        std::make_shared<Tokenizer>(Tokenizer::from_directory((kFixtures / dir).string())));
    std::string long_document;
    for (int i = 0; i < 80; ++i) long_document += "The quick brown fox jumps over the lazy dog. 세종대왕은 1443년에. ";
    const auto answers = reader.read("Who jumps?", long_document);
    REQUIRE(!answers.empty());
    CHECK(answers[0].text == long_document.substr(answers[0].begin_byte, answers[0].end_byte - answers[0].begin_byte));
  }
  CHECK_THROWS_WITH(littlebird_from_checkpoint((kFixtures / "reader_modernbert").string(), options),
                    Catch::Contains("modernbert") && Catch::Contains("GeGLU"));
}

TEST_CASE("each family's reader: HF's tokenization of the pair and HF's best span, through the library and longqa read",
          "[hf][reader]") {
  std::ifstream in(kFixtures / "reader_cases.json");
  REQUIRE(in);
  const auto cases = nlohmann::json::parse(in);
  REQUIRE(cases.size() == 5);
  for (const auto& c : cases) {
    const std::string family = c["family"], dir = c["model_dir"], question = c["question"], document = c["document"];
    INFO(family);
    const Reader reader(dir);
    CHECK(reader.model().config().model_type == family);
    // The pair as HF's tokenizer builds it (special tokens, their order) is what the Reader feeds the model.
    const auto encoding = reader.tokenizer().encode_pair(question, document);
    std::vector<int64_t> ids;
    for (const auto& t : encoding.tokens) ids.push_back(t.id);
    CHECK(ids == c["input_ids"].get<std::vector<int64_t>>());
    const auto pair = reader.tokenizer().pair_template();
    const auto question_tokens = static_cast<int64_t>(reader.tokenizer().tokenize(question).size());
    CHECK(static_cast<int64_t>(ids.size()) ==
          question_tokens + static_cast<int64_t>(reader.tokenizer().tokenize(document).size()) + pair.special_tokens());
    CHECK(std::vector<int64_t>(ids.begin(), ids.begin() + static_cast<int64_t>(pair.before.size())) ==
          std::vector<int64_t>(pair.before.begin(), pair.before.end()));

    const auto answers = reader.read(question, document);
    REQUIRE(!answers.empty());
    CHECK(answers[0].text == c["answer"].get<std::string>());
    CHECK(answers[0].begin_char == c["begin_char"].get<int64_t>());
    CHECK(answers[0].end_char == c["end_char"].get<int64_t>());
    CHECK(answers[0].score == Approx(c["score"].get<double>()).margin(1e-4));

    // What `longqa read --json` prints.
    const fs::path context_file = fs::temp_directory_path() / ("longqa_reader_case_" + family + ".txt");
    std::ofstream(context_file, std::ios::binary) << document;
    const std::string command = std::string(LONGQA_CLI) + " read --json --threads 1 --model '" + dir +
                                "' --context-file '" + context_file.string() + "' --question '" + question + "'";
    int status = 0;
    const std::string printed = longqa::test::command_output(command, status);
    REQUIRE(status == 0);
    fs::remove(context_file);
    const auto from_cli = nlohmann::json::parse(printed);
    INFO(printed);
    REQUIRE(!from_cli["answers"].empty());
    CHECK(from_cli["answers"][0]["text"] == c["answer"]);
    CHECK(from_cli["answers"][0]["begin_char"] == c["begin_char"]);
    CHECK(from_cli["answers"][0]["end_char"] == c["end_char"]);
  }
}
