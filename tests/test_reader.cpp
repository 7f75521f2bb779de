// The Reader: windows over long documents, span decoding, offsets, n-best, no-answer,
// batching. A "planted" model (attention and FFN outputs zeroed, so each token's logits
// depend on its own embedding only) puts the true answer where the test wants it.
#include <algorithm>
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "longqa/qa_model.h"
#include "longqa/reader.h"
#include "longqa/tokenizer.h"
#include "test_util.h"

using namespace longqa;

namespace {

ModelConfig reader_config(const std::string& type) {
  ModelConfig c;
  c.model_type = type;
  c.vocab_size = static_cast<int64_t>(test::tiny_vocab().size());
  c.hidden_size = 32;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 4;
  c.intermediate_size = 64;
  c.max_position_embeddings = 512;
  c.block_size = 16;
  c.pack_size = 8;
  c.max_seq_length = 512;
  return c;
}

// Start logit high on "alpha" only, end logit high on "omega" only, zero elsewhere;
// with `cls_null`, [CLS] outscores every span (no answer).
std::shared_ptr<QaModel> planted_model(const std::string& type, bool cls_null = false) {
  auto model = std::make_shared<QaModel>(QaModel::random(reader_config(type), 1));
  auto& p = model->parameters();
  c10::NoGradGuard no_grad;
  const std::string prefix = model->config().weight_prefix();
  for (auto& [name, t] : p) {
    const bool output = name.find("attention.output.dense") != std::string::npos ||
                        name.find("layer.0.output.dense") != std::string::npos;
    if (output || name.find("token_type_embeddings") != std::string::npos ||
        name.find("position_embeddings") != std::string::npos)
      t.zero_();
  }
  auto words = p.at(prefix + ".embeddings.word_embeddings.weight");
  words.narrow(1, 0, 6).zero_();
  words[5][0] = 8;   // alpha: dim 0 up, dim 1 down
  words[5][1] = -8;
  words[6][2] = 8;   // omega: dim 2 up, dim 3 down
  words[6][3] = -8;
  words[2][4] = 8;   // [CLS]: dim 4 up, dim 5 down, weighted double below
  words[2][5] = -8;
  auto head = p.at("qa_outputs.weight");
  head.zero_();
  head[0][0] = 1, head[0][1] = -1;  // start = x0 - x1
  head[1][2] = 1, head[1][3] = -1;  // end = x2 - x3
  if (cls_null) {                   // [CLS] outscores alpha..omega: 2(x4 - x5) on both ends
    head[0][4] = 2, head[0][5] = -2;
    head[1][4] = 2, head[1][5] = -2;
  }
  p.at("qa_outputs.bias").zero_();
  return model;
}

std::shared_ptr<Tokenizer> tiny_tokenizer() {
  return std::make_shared<Tokenizer>(test::tiny_vocab(), TokenizerOptions{});
}

// "w0 w1 ... " filler of `words` words, with multi-byte text sprinkled in.
std::string filler(int words, int seed) {
  std::string s;
  for (int i = 0; i < words; ++i) {
    s += "w" + std::to_string((i * 7 + seed) % 200) + " ";
    if (i % 50 == 0) s += "가나다 é ";
  }
  return s;
}

int64_t code_points(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

TEST_CASE("the planted answer is found anywhere in a long document, with exact offsets", "[reader]") {
  for (const std::string type : {"littlebird", "bert"}) {
    INFO(type);
    ReaderOptions options;
    options.window_tokens = 96;  // the document needs dozens of windows
    Reader reader(planted_model(type), tiny_tokenizer(), options);
    for (int position : {0, 150, 1333, 2990}) {
      INFO("answer after word " << position);
      const std::string prefix = filler(position, 1);
      const std::string doc = prefix + "alpha w5 w6 omega " + filler(3000 - position, 2);
      const auto answers = reader.read("the w1 question", doc);
      REQUIRE(!answers.empty());
      CHECK(answers[0].text == "alpha w5 w6 omega");
      CHECK(answers[0].begin_byte == static_cast<int64_t>(prefix.size()));
      CHECK(answers[0].begin_char == code_points(prefix));
      CHECK(answers[0].end_char - answers[0].begin_char == 17);
      CHECK(answers.size() <= 5);
    }
  }
}

// A reader in a lower precision still finds the answer planted 700 words in, at its offset.
static std::vector<Answer> check_planted_answer(const Reader& reader) {
  const std::string prefix = filler(700, 1);
  auto answers = reader.read("the w1 question", prefix + "alpha w5 w6 omega " + filler(500, 2));
  REQUIRE(!answers.empty());
  CHECK(answers[0].text == "alpha w5 w6 omega");
  CHECK(answers[0].begin_byte == static_cast<int64_t>(prefix.size()));
  return answers;
}

TEST_CASE("a bfloat16 reader finds the same planted answer and leaves the float32 model alone", "[reader]") {
  const auto model = planted_model("littlebird");
  ReaderOptions options;
  options.window_tokens = 96;
  options.dtype = "bfloat16";
  Reader bf16(model, tiny_tokenizer(), options);
  CHECK(bf16.model().parameters().begin()->second.scalar_type() == at::kBFloat16);
  CHECK(model->parameters().begin()->second.scalar_type() == at::kFloat);  // the shared model is not changed
  const auto answers = check_planted_answer(bf16);
  const std::string prefix = filler(700, 1);
  const auto fp32 = Reader(model, tiny_tokenizer(), ReaderOptions{}).read("the w1 question", prefix + "alpha w5 w6 omega");
  REQUIRE(!fp32.empty());
  CHECK(fp32[0].text == answers[0].text);
  // Without a dtype option the model is read in its own dtype.
  const auto bf16_model = std::make_shared<QaModel>(model->converted(at::kBFloat16));
  CHECK(Reader(bf16_model, tiny_tokenizer()).model().parameters().begin()->second.scalar_type() == at::kBFloat16);
  ReaderOptions bad;
  bad.dtype = "int4";
  CHECK_THROWS_WITH(Reader(model, tiny_tokenizer(), bad), Catch::Contains("float32, bfloat16 or int8"));
}

TEST_CASE("an int8 reader finds the same planted answer and leaves the float32 model alone", "[reader]") {
  const auto model = planted_model("littlebird");
  ReaderOptions options;
  options.window_tokens = 96;
  options.dtype = "int8";
  Reader int8(model, tiny_tokenizer(), options);
  CHECK(int8.model().is_int8());
  CHECK_FALSE(model->is_int8());
  check_planted_answer(int8);
  // An int8 model given to a float32 reader is read in float32 again.
  ReaderOptions fp32;
  fp32.dtype = "float32";
  const auto int8_model = std::make_shared<QaModel>(model->quantized_int8());
  CHECK_FALSE(Reader(int8_model, tiny_tokenizer(), fp32).model().is_int8());
  CHECK(Reader(int8_model, tiny_tokenizer()).model().is_int8());  // no dtype option: read as it is
}

TEST_CASE("answer offsets always slice the original text to the answer text", "[reader]") {
  ReaderOptions options;
  options.window_tokens = 64;
  options.n_best = 20;
  const auto random_model = std::make_shared<QaModel>(QaModel::random(reader_config("littlebird"), 9));
  Reader reader(random_model, tiny_tokenizer(), options);
  const std::string doc = "Ünïcode  w1,w2. 가나다 w3\tw4\n\n😀 w5 ##s the w6 ALPHA w7 omega. " + filler(300, 3);
  const auto answers = reader.read("w1 w2", doc);
  REQUIRE(answers.size() == 20);
  const Utf8Index index(doc);
  for (const auto& a : answers) {
    CHECK(a.text == doc.substr(a.begin_byte, a.end_byte - a.begin_byte));
    CHECK(index.char_of_byte(a.begin_byte) == a.begin_char);
    CHECK(index.char_of_byte(a.end_byte) == a.end_char);
    CHECK(a.end_byte > a.begin_byte);
  }
  for (size_t i = 1; i < answers.size(); ++i) CHECK(answers[i - 1].score >= answers[i].score);
}

TEST_CASE("max_answer_tokens and n_best are respected", "[reader]") {
  ReaderOptions options;
  options.max_answer_tokens = 2;
  options.n_best = 3;
  auto tokenizer = tiny_tokenizer();
  Reader reader(planted_model("littlebird"), tokenizer, options);
  const auto answers = reader.read("w1", filler(40, 1) + "alpha w5 w6 omega " + filler(40, 2));
  REQUIRE(answers.size() == 3);
  for (const auto& a : answers) CHECK(tokenizer->tokenize(a.text).size() <= 2);
  CHECK(answers[0].text != "alpha w5 w6 omega");
}

TEST_CASE("answers are ranked across several documents, and batches equal single reads", "[reader]") {
  Reader reader(planted_model("bert"), tiny_tokenizer());
  ReadRequest request{"w3", {filler(100, 1), filler(50, 2) + "alpha w9 omega " + filler(10, 3), filler(20, 4)}};
  const auto answers = reader.read(request);
  REQUIRE(!answers.empty());
  CHECK(answers[0].document == 1);
  CHECK(answers[0].text == "alpha w9 omega");

  ReadRequest other{"w4 w5", {filler(70, 5) + "alpha omega"}};
  const auto batch = reader.read_batch({request, other, request});
  REQUIRE(batch.size() == 3);
  for (const auto& [got, want] : {std::pair{batch[0], answers}, std::pair{batch[1], reader.read(other)},
                                  std::pair{batch[2], answers}}) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].text == want[i].text);
      CHECK(got[i].score == Approx(want[i].score).margin(1e-4));
    }
  }
}

TEST_CASE("the token budget groups windows differently but changes no answer", "[reader]") {
  // Windows of very different lengths (a long document, short ones) in one read_batch: a budget
  // of one token reads every window alone, a large one pads them together. Same answers.
  const auto model = std::make_shared<QaModel>(QaModel::random(reader_config("littlebird"), 5));
  const std::vector<ReadRequest> requests = {{"w1 w2", {filler(400, 1), filler(12, 2)}},
                                             {"w3", {filler(30, 3)}}};
  auto read_with = [&](int64_t batch_tokens) {
    ReaderOptions options;
    options.window_tokens = 256;
    options.n_best = 8;
    options.batch_tokens = batch_tokens;
    return Reader(model, tiny_tokenizer(), options).read_batch(requests);
  };
  const auto alone = read_with(1), together = read_with(1 << 20), middle = read_with(300);
  for (const auto* got : {&together, &middle}) {
    REQUIRE(got->size() == alone.size());
    for (size_t r = 0; r < alone.size(); ++r) {
      REQUIRE((*got)[r].size() == alone[r].size());
      for (size_t i = 0; i < alone[r].size(); ++i) {
        CHECK((*got)[r][i].begin_byte == alone[r][i].begin_byte);
        CHECK((*got)[r][i].score == Approx(alone[r][i].score).margin(1e-3));
      }
    }
  }
  ReaderOptions bad;
  bad.batch_tokens = 0;
  CHECK_THROWS_WITH(Reader(model, tiny_tokenizer(), bad), Catch::Contains("batch_tokens"));
}

TEST_CASE("score calibration: within a window the same ranking, across windows probabilities", "[reader]") {
  auto read_with = [](const std::string& calibration, const ReadRequest& request, bool cls_null = true) {
    ReaderOptions options;
    options.score_calibration = calibration;
    options.n_best = 10;
    return Reader(planted_model("bert", cls_null), tiny_tokenizer(), options).read(request);
  };
  // One window: every calibration subtracts one number from every span.
  const ReadRequest one{"w2", {filler(30, 1) + "alpha w1 omega w5 alpha omega " + filler(20, 2)}};
  const auto raw = read_with("raw", one), null = read_with("null", one), softmax = read_with("softmax", one);
  REQUIRE(raw.size() == 10);
  REQUIRE(null.size() == raw.size());
  REQUIRE(softmax.size() == raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    CHECK(null[i].begin_byte == raw[i].begin_byte);
    CHECK(softmax[i].end_byte == raw[i].end_byte);
    CHECK(raw[i].score - null[i].score == Approx(raw[0].score - null[0].score).margin(1e-4));
    CHECK(raw[i].score - softmax[i].score == Approx(raw[0].score - softmax[0].score).margin(1e-4));
    CHECK(softmax[i].score < 0);  // log p(start) + log p(end)
  }
  // The same answer in a short and in a long document: equal logits, but in the short window it has fewer
  // competitors, so its probability is higher ([CLS] scores nothing here, or it would hold the mass in both).
  const ReadRequest two{"w2", {filler(200, 3) + "alpha omega " + filler(200, 4), filler(5, 5) + "alpha omega"}};
  const auto raw_two = read_with("raw", two, false), softmax_two = read_with("softmax", two, false);
  REQUIRE(raw_two.size() >= 2);
  CHECK(raw_two[0].text == "alpha omega");
  CHECK(raw_two[1].text == "alpha omega");
  CHECK(raw_two[0].score == Approx(raw_two[1].score).margin(1e-3));
  CHECK(softmax_two[0].document == 1);
  CHECK(softmax_two[0].text == "alpha omega");
  const auto in_long = std::find_if(softmax_two.begin(), softmax_two.end(),
                                    [](const Answer& a) { return a.document == 0 && a.text == "alpha omega"; });
  REQUIRE(in_long != softmax_two.end());
  CHECK(softmax_two[0].score > in_long->score + 0.1);
  ReaderOptions bad;
  bad.score_calibration = "platt";
  CHECK_THROWS_WITH(Reader(planted_model("bert"), tiny_tokenizer(), bad), Catch::Contains("raw, null or softmax"));
}

TEST_CASE("no-answer: returned first when [CLS] wins and the option allows it", "[reader]") {
  const std::string doc = filler(30, 1) + "alpha w1 omega";
  ReaderOptions options;
  options.allow_no_answer = true;
  const auto with_null = Reader(planted_model("littlebird", /*cls_null=*/true), tiny_tokenizer(), options).read("w2", doc);
  REQUIRE(!with_null.empty());
  CHECK(with_null[0].no_answer);
  CHECK(with_null[0].text.empty());
  const auto without_null = Reader(planted_model("littlebird", false), tiny_tokenizer(), options).read("w2", doc);
  CHECK_FALSE(without_null[0].no_answer);
  options.allow_no_answer = false;
  const auto never = Reader(planted_model("littlebird", true), tiny_tokenizer(), options).read("w2", doc);
  CHECK_FALSE(never[0].no_answer);
}

TEST_CASE("edge inputs and bad options", "[reader]") {
  Reader reader(planted_model("littlebird"), tiny_tokenizer());
  CHECK(reader.read("w1", "").empty());
  CHECK(reader.read("", "alpha omega")[0].text == "alpha omega");
  ReaderOptions bad;
  bad.n_best = 0;
  CHECK_THROWS_WITH(Reader(planted_model("bert"), tiny_tokenizer(), bad), Catch::Contains("n_best"));
  ReaderOptions tiny_window;
  tiny_window.window_tokens = 4;
  CHECK_THROWS_WITH(Reader(planted_model("bert"), tiny_tokenizer(), tiny_window).read("w1 w2 w3", "w4"),
                    Catch::Contains("no room"));
}

TEST_CASE("passage prior: weight x relevance joins the score of spans starting in the range", "[reader]") {
  // The planted answer sits early; the prior favours a later range of filler, in another window.
  const std::string prefix = filler(40, 1);
  const std::string answer = "alpha w5 omega ";
  const std::string middle = filler(300, 2);
  const std::string doc = prefix + answer + middle;
  const int64_t late_begin = static_cast<int64_t>(prefix.size() + answer.size() + middle.size() / 2);
  const int64_t late_end = static_cast<int64_t>(doc.size());
  const std::vector<PassageRelevance> ranges = {{0, late_begin, 0.1}, {late_begin - 40, late_end, 0.9}};
  auto read_with = [&](double weight, std::vector<std::vector<PassageRelevance>> relevance) {
    ReaderOptions options;
    options.window_tokens = 96;  // several windows: the prior must follow each window's offset
    options.passage_weight = weight;
    options.n_best = 20;
    return Reader(planted_model("littlebird"), tiny_tokenizer(), options).read(ReadRequest{"w1", {doc}, relevance});
  };
  const auto plain = read_with(20, {});
  REQUIRE(!plain.empty());
  CHECK(plain[0].text == "alpha w5 omega");
  CHECK(plain[0].passage_prior == 0);
  CHECK(read_with(0, {ranges})[0].text == "alpha w5 omega");  // weight 0: off

  // A weak prior keeps the answer (its logits win by far) and adds weight x relevance of where
  // each span starts (0.1 early; 0.9 from the second range on, the higher one where they overlap);
  // without the prior each span scores what the plain read gave it.
  const auto weak = read_with(1, {ranges});
  REQUIRE(weak.size() == 20);
  CHECK(weak[0].text == "alpha w5 omega");
  CHECK(weak[0].score == Approx(plain[0].score + 0.1).margin(1e-4));
  int matched = 0;
  for (const auto& a : weak) {
    CHECK(a.passage_prior == Approx(a.begin_byte >= late_begin - 40 ? 0.9 : 0.1));
    const auto same = std::find_if(plain.begin(), plain.end(), [&](const Answer& p) {
      return p.begin_byte == a.begin_byte && p.end_byte == a.end_byte;
    });
    if (same == plain.end()) continue;
    ++matched;
    CHECK(a.score - a.passage_prior == Approx(same->score).margin(1e-3));
  }
  CHECK(matched >= 10);

  // A strong prior moves every one of the best spans into the favoured range, at weight x 0.9.
  const auto strong = read_with(1000, {ranges});
  REQUIRE(strong.size() == 20);
  for (const auto& a : strong) {
    CHECK(a.begin_byte >= late_begin - 40);
    CHECK(a.passage_prior == Approx(900.0));
  }
  // A span that starts where the two ranges overlap takes the higher relevance.
  const std::vector<PassageRelevance> overlap = {{0, static_cast<int64_t>(prefix.size() + 5), 0.7}, {0, late_end, 0.2}};
  const auto both = read_with(1, {overlap});
  CHECK(both[0].text == "alpha w5 omega");
  CHECK(both[0].passage_prior == Approx(0.7));

  // A span starting outside every range takes the document's lowest relevance.
  const auto gap = read_with(1, {{{late_begin - 40, late_end, 0.9}, {late_end, late_end, -0.5}}});
  REQUIRE(!gap.empty());
  CHECK(gap[0].text == "alpha w5 omega");
  CHECK(gap[0].passage_prior == Approx(-0.5));
  CHECK(gap[0].score == Approx(plain[0].score - 0.5).margin(1e-4));

  // Bad relevance is refused: a list per document, ranges inside the document, finite numbers.
  CHECK_THROWS_WITH(read_with(1, {ranges, ranges}), Catch::Contains("relevance for 2 documents but 1"));
  CHECK_THROWS_WITH(read_with(1, {{{0, late_end + 1, 0.5}}}), Catch::Contains("byte range"));
  CHECK_THROWS_WITH(read_with(1, {{{5, 2, 0.5}}}), Catch::Contains("byte range"));
  CHECK_THROWS_WITH(read_with(1, {{{0, 4, NAN}}}), Catch::Contains("finite"));
  ReaderOptions bad;
  bad.passage_weight = -1;
  CHECK_THROWS_WITH(Reader(planted_model("bert"), tiny_tokenizer(), bad), Catch::Contains("passage_weight"));
}

TEST_CASE("passage prior: ranked across documents, and no-answer weighs the span without it", "[reader]") {
  // Two documents with the same planted answer: the prior picks the one whose passage is relevant.
  const std::string a = filler(30, 1) + "alpha w1 omega " + filler(30, 2);
  const std::string b = filler(20, 3) + "alpha w1 omega " + filler(20, 4);
  ReaderOptions options;
  options.passage_weight = 5;
  Reader reader(planted_model("bert"), tiny_tokenizer(), options);
  const int64_t a_size = static_cast<int64_t>(a.size()), b_size = static_cast<int64_t>(b.size());
  for (const size_t favoured : {size_t{0}, size_t{1}}) {
    ReadRequest request{"w2", {a, b}, {{{0, a_size, favoured == 0 ? 0.8 : 0.2}}, {{0, b_size, favoured == 1 ? 0.8 : 0.2}}}};
    const auto answers = reader.read(request);
    REQUIRE(!answers.empty());
    CHECK(answers[0].document == static_cast<int64_t>(favoured));
    CHECK(answers[0].text == "alpha w1 omega");
    CHECK(answers[0].passage_prior == Approx(4.0));
  }
  // "No answer" wins only when [CLS] beats every span's own score: here the planted span beats it
  // (32 against 0 + threshold 1), even though the prior ranks a filler span (own score ~0) first.
  {
    ReaderOptions favours_filler = options;
    favours_filler.allow_no_answer = true;
    favours_filler.no_answer_threshold = -1;
    favours_filler.passage_weight = 1000;
    favours_filler.max_answer_tokens = 3;  // spans from the favoured filler cannot reach "omega"
    const int64_t planted_at = static_cast<int64_t>(a.find("alpha"));
    const auto answers =
        Reader(planted_model("bert"), tiny_tokenizer(), favours_filler)
            .read(ReadRequest{"w2", {a}, {{{0, planted_at - 20, 1.0}, {planted_at - 20, a_size, 0.0}}}});
    REQUIRE(!answers.empty());
    CHECK_FALSE(answers[0].no_answer);
    CHECK(answers[0].begin_byte < planted_at - 20);
    // The prior's favourite alone would lose to [CLS] (own score ~0 < null 0 + 1): only the
    // planted span, outside the n best, keeps "no answer" out.
    CHECK(answers[0].score - answers[0].passage_prior < 0.5);
    for (const auto& a : answers) CHECK(a.text != "alpha w1 omega");
  }
  // [CLS] outscores the span; a large prior on the span does not turn "no answer" into an answer.
  ReaderOptions no_answer = options;
  no_answer.allow_no_answer = true;
  no_answer.passage_weight = 1000;
  const auto with_null = Reader(planted_model("bert", /*cls_null=*/true), tiny_tokenizer(), no_answer)
                             .read(ReadRequest{"w2", {a}, {{{0, a_size, 1.0}}}});
  REQUIRE(!with_null.empty());
  CHECK(with_null[0].no_answer);
}
