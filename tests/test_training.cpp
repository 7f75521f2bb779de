// Training: a tiny LittleBird reader learns a synthetic extractive task; an interrupted
// and resumed run ends with exactly the weights of an uninterrupted one; gradients reach
// every parameter, the BiALiBi scalars included.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <numeric>
#include <random>

#include "longqa/qa_model.h"
#include "longqa/reader.h"
#include "longqa/training/encoder_trainers.h"
#include "longqa/training/reader_trainer.h"
#include "longqa/training/synthetic_qa.h"
#include "test_util.h"

using namespace longqa;

namespace {

ModelConfig tiny_littlebird() {
  ModelConfig c;
  c.model_type = "littlebird";
  c.vocab_size = static_cast<int64_t>(test::tiny_vocab().size());
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 128;
  c.block_size = 16;
  c.pack_size = 8;
  c.max_seq_length = 512;
  return c;
}

// The task: the context holds "alpha X" and "omega Y" among filler words; the question
// names one of the two markers, the answer is the word after it. Answering needs the
// question (attention from the document to it), and the answer's position varies.
std::vector<QaExample> synthetic_examples(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<QaExample> out;
  for (int i = 0; i < count; ++i) {
    const int length = 12 + static_cast<int>(rng() % 24);
    const int alpha_at = static_cast<int>(rng() % length);
    int omega_at = static_cast<int>(rng() % length);
    while (omega_at == alpha_at) omega_at = static_cast<int>(rng() % length);
    const bool ask_alpha = rng() % 2 == 0;
    QaExample e;
    e.id = std::to_string(i);
    e.question = std::string("the ") + (ask_alpha ? "alpha" : "omega");
    for (int k = 0; k < length; ++k) {
      if (k == alpha_at) e.context += "alpha ";
      if (k == omega_at) e.context += "omega ";
      const std::string word = "w" + std::to_string(rng() % 200);
      if (k == (ask_alpha ? alpha_at : omega_at))
        e.answers.emplace_back(static_cast<int64_t>(e.context.size()), static_cast<int64_t>(e.context.size() + word.size()));
      e.context += word + " ";
    }
    out.push_back(e);
  }
  return out;
}

TrainerOptions quick_options(const std::string& out_dir) {
  TrainerOptions o;
  o.out_dir = out_dir;
  o.batch_size = 16;
  o.learning_rate = 3e-3;
  o.warmup_ratio = 0.05;
  o.weight_decay = 0.0;
  o.window_tokens = 128;
  o.overlap_tokens = 32;
  o.log_every = 50;
  o.save_every = 0;
  o.progress = false;
  return o;
}

double exact_match_rate(const QaModel& model, const std::vector<QaExample>& examples) {
  auto shared = std::shared_ptr<const QaModel>(&model, [](const QaModel*) {});
  Reader reader(shared, std::make_shared<Tokenizer>(test::tiny_vocab(), TokenizerOptions{}));
  int right = 0;
  for (const auto& e : examples) {
    const auto answers = reader.read(e.question, e.context);
    const auto& gold = e.answers[0];
    right += !answers.empty() && answers[0].text == e.context.substr(gold.first, gold.second - gold.first);
  }
  return static_cast<double>(right) / static_cast<double>(examples.size());
}

}  // namespace

TEST_CASE("a tiny reader learns a synthetic extractive task", "[training]") {
  test::TempDir dir;
  auto tokenizer = std::make_shared<Tokenizer>(test::tiny_vocab(), TokenizerOptions{});
  const auto held_out = synthetic_examples(100, 777);
  auto options = quick_options(dir.path().string());
  options.max_steps = 300;

  QaModel start = QaModel::random(tiny_littlebird(), 5);
  const double before = exact_match_rate(start, held_out);
  ReaderTrainer trainer(std::move(start), tokenizer, options);
  std::vector<double> losses;
  const auto result = trainer.train(synthetic_examples(3000, 1));
  const double after = exact_match_rate(trainer.model(), held_out);
  INFO("held-out exact match before " << before << ", after " << after << ", last loss " << result.last_loss);
  CHECK(result.steps == 300);
  // From chance (ln 38 ≈ 3.6 for a uniform guess over the context, exact match 0) to
  // finding the answers; past 0.5 it must also tell the two markers apart by the question.
  CHECK(result.last_loss < 1.0);
  CHECK(after >= 0.4);
  CHECK(before < 0.05);
  // The out_dir is a complete model directory that loads and answers the same way.
  CHECK(exact_match_rate(QaModel::load(dir.path().string()), held_out) == Approx(after));
}

namespace {

// Mean KL(teacher || student) of the start distributions over the examples' windows.
double start_kl(const QaModel& student, const QaModel& teacher, const Tokenizer& tokenizer,
                const std::vector<QaExample>& examples) {
  c10::InferenceMode guard;
  double total = 0;
  for (const auto& e : examples) {
    std::vector<int64_t> ids = {tokenizer.cls_id()}, types = {0};
    for (const auto& t : tokenizer.tokenize(e.question)) ids.push_back(t.id), types.push_back(0);
    ids.push_back(tokenizer.sep_id()), types.push_back(0);
    for (const auto& t : tokenizer.tokenize(e.context)) ids.push_back(t.id), types.push_back(1);
    ids.push_back(tokenizer.sep_id()), types.push_back(1);
    const auto n = static_cast<int64_t>(ids.size());
    const EncoderInput input{at::tensor(ids).view({1, n}), at::tensor(types).view({1, n}), at::ones({1, n}, at::kBool)};
    const auto p = at::log_softmax(teacher.forward(input).start, -1), q = at::log_softmax(student.forward(input).start, -1);
    total += (p.exp() * (p - q)).sum().item<double>();
  }
  return total / static_cast<double>(examples.size());
}

}  // namespace

TEST_CASE("a student trained with a teacher comes to agree with it", "[training][distill]") {
  auto tokenizer = std::make_shared<Tokenizer>(test::tiny_vocab(), TokenizerOptions{});
  const auto train = synthetic_examples(1000, 1), held_out = synthetic_examples(50, 777);
  // The teacher: a BERT reader trained on the task.
  test::TempDir teacher_dir, plain_dir, taught_dir;
  auto config = tiny_littlebird();
  config.model_type = "bert";
  auto options = quick_options(teacher_dir.path().string());
  options.max_steps = 150;
  ReaderTrainer teacher_trainer(QaModel::random(config, 21), tokenizer, options);
  teacher_trainer.train(train);
  const QaModel teacher = QaModel::load(teacher_dir.path().string());
  // Two LittleBird students from the same start, one with the teacher.
  options.max_steps = 60;
  options.out_dir = plain_dir.path().string();
  ReaderTrainer plain(QaModel::random(tiny_littlebird(), 5), tokenizer, options);
  plain.train(train);
  options.out_dir = taught_dir.path().string();
  ReaderTrainer taught(QaModel::random(tiny_littlebird(), 5), tokenizer, options);
  taught.set_teacher(QaModel::load(teacher_dir.path().string()), {/*logit_weight=*/5.0, /*hidden_weight=*/0.0, 2.0});
  taught.train(train);
  const double kl_start = start_kl(QaModel::random(tiny_littlebird(), 5), teacher, *tokenizer, held_out);
  const double kl_plain = start_kl(plain.model(), teacher, *tokenizer, held_out);
  const double kl_taught = start_kl(taught.model(), teacher, *tokenizer, held_out);
  INFO("held-out KL(teacher || student): untrained " << kl_start << ", labels only " << kl_plain << ", with the teacher "
                                                     << kl_taught);
  CHECK(kl_taught < kl_start);
  CHECK(kl_taught < 0.8 * kl_plain);
  // A teacher with another vocabulary, or a hidden-state loss across widths, is refused.
  auto other = tiny_littlebird();
  other.vocab_size += 1;
  CHECK_THROWS_WITH(taught.set_teacher(QaModel::random(other, 1)), Catch::Contains("vocabulary"));
  other = tiny_littlebird();
  other.hidden_size = 32;
  CHECK_THROWS_WITH(taught.set_teacher(QaModel::random(other, 1), {1.0, 1.0, 2.0}), Catch::Contains("width"));
}

TEST_CASE("stopping and resuming from a checkpoint gives the weights of an uninterrupted run", "[training]") {
  auto tokenizer = std::make_shared<Tokenizer>(test::tiny_vocab(), TokenizerOptions{});
  const auto examples = synthetic_examples(200, 3);
  test::TempDir straight_dir, resumed_dir;

  auto options = quick_options(straight_dir.path().string());
  options.max_steps = 24;
  options.grad_accum = 2;
  options.weight_decay = 0.01;
  options.save_every = 8;
  ReaderTrainer straight(QaModel::random(tiny_littlebird(), 5), tokenizer, options);
  straight.train(examples);

  options.out_dir = resumed_dir.path().string();
  options.stop_after = 16;
  ReaderTrainer interrupted(QaModel::random(tiny_littlebird(), 5), tokenizer, options);
  CHECK(interrupted.train(examples).steps == 16);
  CHECK(std::filesystem::exists(resumed_dir.path() / "checkpoint-16"));
  options.stop_after = 0;
  options.resume = true;
  // A different starting point proves the weights come from the checkpoint.
  ReaderTrainer resumed(QaModel::random(tiny_littlebird(), 99), tokenizer, options);
  CHECK(resumed.train(examples).steps == 24);

  for (const auto& [name, p] : straight.model().parameters()) {
    INFO(name);
    CHECK(at::equal(p, resumed.model().parameters().at(name)));
  }
}

TEST_CASE("gradients reach every parameter, alpha/beta/gamma included", "[training]") {
  for (const std::string type : {"littlebird", "bert"}) {
    INFO(type);
    auto config = tiny_littlebird();
    config.model_type = type;
    QaModel model = QaModel::random(config, 2);
    model.make_trainable();
    auto ids = at::randint(5, config.vocab_size, {4, 70}, at::kLong);
    auto types = at::cat({at::zeros({4, 5}, at::kLong), at::ones({4, 65}, at::kLong)}, 1);
    auto valid = at::ones({4, 70}, at::kBool);
    valid[1].narrow(0, 50, 20).fill_(false);
    const auto logits = model.forward({ids, types, valid});
    const auto targets = at::tensor(std::vector<int64_t>{10, 0, 33, 69}, at::kLong);
    (at::cross_entropy_loss(logits.start, targets) + at::cross_entropy_loss(logits.end, targets)).backward();
    // The last layer's packed output P' feeds nothing, so its LayerNorm gets no gradient.
    const std::string dead = "littlebird.encoder.layer." + std::to_string(config.num_hidden_layers - 1) +
                             ".pack_attention.output.LayerNorm.";
    for (const auto& [name, p] : model.parameters()) {
      INFO(name);
      if (name.rfind(dead, 0) == 0) {
        CHECK_FALSE(p.grad().defined());
        continue;
      }
      REQUIRE(p.grad().defined());
      CHECK(at::isfinite(p.grad()).all().item<bool>());
      // A softmax over positions ignores a shift shared by all of them: the start/end
      // biases get a gradient that is zero up to rounding, whatever the encoder.
      if (name == "qa_outputs.bias") {
        CHECK(p.grad().abs().max().item<double>() < 1e-5);
        continue;
      }
      CHECK(p.grad().abs().sum().item<double>() > 0);
    }
  }
}

TEST_CASE("cloze questions: the answer span slices the context and is blanked in the question", "[training][synthetic]") {
  const std::vector<std::string> texts = {
      "The Eiffel Tower was finished in 1889 by Gustave Eiffel's company. It stands in Paris on the Champ de Mars. "
      "Millions of people visit the tower every year to see the city.",
      "서울은 대한민국의 수도이며 가장 큰 도시이다. 한강이 도시를 가로질러 흐르며 많은 다리가 놓여 있다.",
      "too short."};
  ClozeOptions options;
  options.per_text = 5;
  options.min_sentence_words = 5;
  const auto examples = make_cloze_examples(texts, options);
  REQUIRE(examples.size() >= 3);
  for (const auto& e : examples) {
    INFO(e.question);
    REQUIRE(e.answers.size() == 1);
    const auto [b, end] = e.answers[0];
    REQUIRE(end > b);
    const std::string answer = e.context.substr(b, end - b);
    // Putting the answer back into the blank gives the original sentence of the context.
    const std::string blank = e.question.find("무엇") != std::string::npos ? "무엇" : "what";
    const size_t at = e.question.find(blank);
    REQUIRE(at != std::string::npos);
    const std::string sentence = e.question.substr(0, at) + answer + e.question.substr(at + blank.size());
    CHECK(e.context.find(sentence) != std::string::npos);
    CHECK_FALSE(std::ispunct(static_cast<unsigned char>(answer.back())));
  }
  const auto sentences = split_sentences(texts[0]);
  CHECK(sentences.size() == 3);
  const auto pairs = make_ict_pairs(texts, 1, 0.0);
  REQUIRE(pairs.size() == 2);
  for (const auto& [query, passage] : pairs) CHECK(passage.find(query) == std::string::npos);
}

TEST_CASE("MLM pretraining lowers the masked-token loss", "[training][mlm]") {
  test::TempDir dir;
  auto tokenizer = std::make_shared<Tokenizer>(test::tiny_vocab(), TokenizerOptions{});
  // A text with structure to learn: each word is followed by its successor.
  std::vector<std::string> texts;
  for (int t = 0; t < 60; ++t) {
    std::string s;
    for (int k = 0; k < 30; ++k) s += "w" + std::to_string((t * 3 + k) % 200) + " ";
    texts.push_back(s);
  }
  auto options = quick_options(dir.path().string());
  options.max_steps = 120;
  options.window_tokens = 32;
  MlmPretrainer trainer(QaModel::random(tiny_littlebird(), 3), tokenizer, options);
  const double before = trainer.evaluate(texts);
  const auto result = trainer.train(texts);
  const double after = trainer.evaluate(texts);
  INFO("loss before " << before << ", after " << after);
  CHECK(result.steps == 120);
  CHECK(after < 0.9 * before);
  CHECK(std::filesystem::exists(dir.path() / "mlm_head.safetensors"));
}

TEST_CASE("distillation teaches a converted LittleBird student its BERT teacher's hidden states",
          "[training][distill]") {
  test::TempDir teacher_dir, out;
  auto tokenizer = std::make_shared<Tokenizer>(test::tiny_vocab(), TokenizerOptions{});
  // A BERT teacher and a LittleBird student that starts elsewhere (random). The teacher's
  // position embeddings are scaled down: no student can know absolute positions, so a random
  // teacher's would be noise it cannot fit.
  auto config = tiny_littlebird();
  config.model_type = "bert";
  config.max_position_embeddings = 64;
  QaModel teacher = QaModel::random(config, 11);
  teacher.parameters().at("bert.embeddings.position_embeddings.weight").mul_(0.1);
  teacher.save(teacher_dir.path().string());
  std::vector<std::string> texts, held_out;
  std::mt19937_64 rng(9);
  for (int t = 0; t < 80; ++t) {
    std::string s;
    for (int k = 0; k < 30; ++k) s += "w" + std::to_string(rng() % 200) + " ";
    (t < 64 ? texts : held_out).push_back(s);
  }
  auto options = quick_options(out.path().string());
  options.max_steps = 80;
  options.window_tokens = 32;
  options.learning_rate = 2e-3;
  DistillTrainer trainer(QaModel::random(tiny_littlebird(), 12), QaModel::load_encoder(teacher_dir.path().string()),
                         tokenizer, options);
  const double before = trainer.evaluate(held_out);
  const auto result = trainer.train(texts);
  const double after = trainer.evaluate(held_out);
  INFO("held-out distillation loss before " << before << ", after " << after);
  CHECK(result.steps == 80);
  CHECK(after < 0.25 * before);  // measured: 1.79 -> 0.006 in 150 steps
  // The saved student is the trained one.
  const QaModel saved = QaModel::load(out.path().string());
  for (const auto& [name, p] : trainer.model().parameters()) {
    INFO(name);
    CHECK(at::equal(p.detach(), saved.parameters().at(name)));
  }
  // Sequences beyond the teacher's positions are refused.
  options.window_tokens = 128;
  CHECK_THROWS_WITH(DistillTrainer(QaModel::random(tiny_littlebird(), 12),
                                   QaModel::load_encoder(teacher_dir.path().string()), tokenizer, options),
                    Catch::Contains("do not fit the teacher"));
}

TEST_CASE("the bi-encoder retriever learns to match questions to their passages", "[training][retriever]") {
  test::TempDir dir;
  auto tokenizer = std::make_shared<Tokenizer>(test::tiny_vocab(), TokenizerOptions{});
  // Each passage holds one rare "key" word; its question is that word.
  std::mt19937_64 rng(4);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 0; i < 400; ++i) {
    const int key = static_cast<int>(rng() % 200);
    std::string passage;
    for (int k = 0; k < 12; ++k) passage += "w" + std::to_string(rng() % 200) + " ";
    passage += "w" + std::to_string(key);
    pairs.emplace_back("w" + std::to_string(key), passage);
  }
  auto config = tiny_littlebird();
  config.model_type = "bert";
  auto options = quick_options(dir.path().string());
  options.max_steps = 150;
  options.window_tokens = 32;
  options.learning_rate = 1e-3;
  RetrieverTrainer trainer(QaModel::random(config, 8), tokenizer, options);
  const auto result = trainer.train(pairs);
  INFO("last loss " << result.last_loss);
  CHECK(result.last_loss < std::log(16.0) * 0.5);  // in-batch chance is ln(16)
  CHECK(std::filesystem::exists(dir.path() / "modules.json"));
}
