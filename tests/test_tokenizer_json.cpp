// tokenizer.json models other than BERT's WordPiece against Hugging Face tokenizers itself
// (tests/hf/make_tokenizer_json_fixtures.py trains them with the library): the same ids,
// tokens, type ids and byte offsets for every text and pair of every configuration.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "longqa/tokenizer.h"
#include "test_util.h"

using longqa::Encoding;
using longqa::Token;
using longqa::Tokenizer;
using nlohmann::json;

namespace {

const std::string kCases = std::string(LONGQA_HF_FIXTURES) + "/tokenizer_json/cases.json";

json load_cases() {
  std::ifstream in(kCases, std::ios::binary);
  return json::parse(in);
}

std::string describe(const Encoding& e, size_t from) {
  std::ostringstream out;
  for (size_t i = from; i < std::min(e.tokens.size(), from + 6); ++i) {
    const Token& t = e.tokens[i];
    out << "#" << i << " id " << t.id << " \"" << t.text << "\" [" << t.begin << "," << t.end << ") type "
        << e.type_ids[i] << " seq " << e.sequence_ids[i] << "\n";
  }
  return out.str();
}

Encoding expected(const json& c) {
  Encoding e;
  for (size_t i = 0; i < c["ids"].size(); ++i) {
    e.tokens.push_back({c["ids"][i].get<int32_t>(), c["tokens"][i].get<std::string>(), c["offsets"][i][0].get<int64_t>(),
                        c["offsets"][i][1].get<int64_t>()});
    e.type_ids.push_back(c["type_ids"][i].get<int32_t>());
    e.sequence_ids.push_back(c["sequence_ids"][i].get<int32_t>());
  }
  return e;
}

bool same(const Token& a, const Token& b) { return a.id == b.id && a.text == b.text && a.begin == b.begin && a.end == b.end; }

}  // namespace

TEST_CASE("tokenizer.json models equal Hugging Face tokenizers", "[tokenizer][tokenizer_json][hf]") {
  if (longqa::test::skip_unless(std::filesystem::exists(kCases), "no " + kCases + ": run hf_reference_fixtures"))
    return;
  const json all = load_cases();
  size_t texts = 0, tokens = 0;
  for (const json& config : all["configs"]) {
    const std::string name = config["name"];
    INFO("configuration " << name);
    const Tokenizer tokenizer = config.value("loader", std::string()) == "directory"
                                    ? Tokenizer::from_directory(config["path"])
                                    : Tokenizer::from_tokenizer_json(config["path"]);
    for (const json& c : config["cases"]) {
      const std::string text = c["text"];
      const bool special = c["add_special_tokens"];
      const Encoding want = expected(c);
      const Encoding got = c["pair"].is_null() ? tokenizer.encode(text, special)
                                               : tokenizer.encode_pair(text, c["pair"].get<std::string>(), special);
      size_t i = 0;
      while (i < want.tokens.size() && i < got.tokens.size() && same(want.tokens[i], got.tokens[i]) &&
             want.type_ids[i] == got.type_ids[i] && want.sequence_ids[i] == got.sequence_ids[i])
        ++i;
      INFO("text \"" << text.substr(0, 100) << "\"" << (c["pair"].is_null() ? "" : " + pair")
                     << (special ? " with" : " without") << " special tokens; first difference at token " << i
                     << " of " << want.tokens.size());
      const size_t from = i < 2 ? 0 : i - 2;
      CHECK(describe(got, from) == describe(want, from));
      CHECK(got.tokens.size() == want.tokens.size());
      if (!special && c["pair"].is_null()) {
        const std::vector<Token> plain = tokenizer.tokenize(text);
        CHECK(plain.size() == want.tokens.size());
      }
      ++texts, tokens += want.tokens.size();
    }
  }
  std::cout << "compared " << texts << " encodings (" << tokens << " tokens) of " << all["configs"].size()
            << " tokenizer.json configurations with Hugging Face tokenizers "
            << all["tokenizers_version"].get<std::string>() << "\n";
}

TEST_CASE("tokenizer.json special ids and model types", "[tokenizer][tokenizer_json][hf]") {
  if (longqa::test::skip_unless(std::filesystem::exists(kCases), "no " + kCases + ": run hf_reference_fixtures"))
    return;
  const std::string dir = std::string(LONGQA_HF_FIXTURES) + "/tokenizer_json/";
  const Tokenizer roberta = Tokenizer::from_tokenizer_json(dir + "byte_level_bpe/tokenizer.json");
  CHECK(roberta.model_type() == "BPE");
  CHECK(roberta.cls_id() == roberta.token_to_id("<s>"));
  CHECK(roberta.sep_id() == roberta.token_to_id("</s>"));
  CHECK(roberta.pad_id() == roberta.token_to_id("<pad>"));
  CHECK(roberta.mask_id() == roberta.token_to_id("<mask>"));
  CHECK(roberta.mask_id() >= 0);
  const Tokenizer xlmr = Tokenizer::from_directory(dir + "unigram_metaspace");
  CHECK(xlmr.model_type() == "Unigram");
  CHECK(xlmr.unk_id() == xlmr.token_to_id("<unk>"));
  CHECK(xlmr.cls_id() == xlmr.token_to_id("<s>"));
  CHECK(xlmr.id_to_token(xlmr.sep_id()) == "</s>");
}

TEST_CASE("unsupported tokenizer.json parts are refused, naming the field and the file", "[tokenizer][tokenizer_json]") {
  longqa::test::TempDir dir("tokjson");
  const auto refused = [&](const std::string& body, const std::string& field) {
    const std::string path = dir / "tokenizer.json";
    longqa::test::write_file(path, body);
    try {
      (void)Tokenizer::from_tokenizer_json(path);
    } catch (const std::exception& e) {  // std::invalid_argument (unsupported) or FileFormatError (malformed)
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find(path) != std::string::npos);
      CHECK(what.find(field) != std::string::npos);
      return true;
    }
    return false;
  };
  const std::string bpe = R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]})";
  CHECK(refused(R"({"model": {"type": "WordLevel", "vocab": {}}})", "model"));
  CHECK(refused(R"({"normalizer": {"type": "Nmt"}, )" + bpe + "}", "normalizer"));
  CHECK(refused(R"({"pre_tokenizer": {"type": "Digits"}, )" + bpe + "}", "pre_tokenizer"));
  CHECK(refused(R"({"post_processor": {"type": "Foo"}, )" + bpe + "}", "post_processor"));
  CHECK(refused(R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\d+"}, "behavior": "Isolated"}, )" + bpe + "}",
                "pre_tokenizer.pattern"));
  // Found by fuzz_tokenizer_json (a read past the sequences, ASan: heap-use-after-free): a
  // template naming a sequence other than A (single) or A and B (pair), and special tokens
  // with more ids than tokens, are refused.
  const std::string specials = R"("special_tokens": {"a": {"id": "a", "ids": [0], "tokens": ["a"]}})";
  CHECK(refused(R"({"post_processor": {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "C", "type_id": 0}}],
                   "pair": [{"Sequence": {"id": "A", "type_id": 0}}], )" + specials + "}, " + bpe + "}",
                "single has only A"));
  CHECK(refused(R"({"post_processor": {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "B", "type_id": 0}}],
                   "pair": [{"Sequence": {"id": "A", "type_id": 0}}], )" + specials + "}, " + bpe + "}",
                "single has only A"));
  CHECK(refused(R"({"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "a", "type_id": 0}}],
                   "pair": [], "special_tokens": {"a": {"id": "a", "ids": [0, 1], "tokens": ["a"]}}}, )" + bpe + "}",
                "2 ids but 1 tokens"));
  // Found by fuzz_tokenizer_json (UBSan: a float too large for an integer id): ids must be integers.
  CHECK(refused(R"({"model": {"type": "BPE", "vocab": {"a": 1.59e128, "b": 1}, "merges": []}})", "not an integer"));
  CHECK(refused(R"({"model": {"type": "WordPiece", "unk_token": "a", "vocab": {"a": 0, "b": -3}}})", "not an integer"));
  // Found by fuzz_tokenizer_json: a file that is JSON but not an object is refused by name.
  longqa::test::write_file(dir / "tokenizer.json", "5");
  try {
    (void)Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
    FAIL("a tokenizer.json holding 5 was accepted");
  } catch (const std::exception& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains(dir / "tokenizer.json") && Catch::Contains("not a JSON object"));
  }
  // A tiny BPE model merges by rank.
  longqa::test::write_file(dir / "tokenizer.json", "{" + bpe + "}");
  const Tokenizer t = Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
  const auto tokens = t.tokenize("abba");
  REQUIRE(tokens.size() == 3);
  CHECK(tokens[0].text == "ab");
  CHECK(tokens[2].begin == 3);
  // SentencePiece model files are refused with how to convert them.
  longqa::test::write_file(dir / "sentencepiece.bpe.model", "x");
  std::filesystem::remove(dir / "tokenizer.json");
  try {
    (void)Tokenizer::from_directory(dir.path().string());
    FAIL("sentencepiece.bpe.model accepted");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("convert_slow_tokenizer") != std::string::npos);
  }
}

TEST_CASE("a megabyte through each tokenizer.json pipeline", "[tokenizer][tokenizer_json][hf]") {
  if (longqa::test::skip_unless(std::filesystem::exists(kCases), "no " + kCases + ": run hf_reference_fixtures"))
    return;
  std::string text;
  while (text.size() < (1 << 20)) text += "KorQuAD는 한국어 질의응답 데이터셋입니다. The quick brown fox 😀 <mask> 1,234.5\n";
  for (const char* name : {"byte_level_bpe", "sentencepiece_bpe", "unigram_precompiled"}) {
    const Tokenizer t = Tokenizer::from_tokenizer_json(std::string(LONGQA_HF_FIXTURES) + "/tokenizer_json/" + name +
                                                       "/tokenizer.json");
    const auto start = std::chrono::steady_clock::now();
    const std::vector<Token> tokens = t.tokenize(text);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    WARN(name << ": 1 MiB, " << tokens.size() << " tokens in " << s << " s");
    REQUIRE(!tokens.empty());
    // The last "\n" is a token of its own (byte-level, byte fallback) or whitespace.
    CHECK(tokens.back().end >= static_cast<int64_t>(text.size()) - 1);
    CHECK(tokens.back().end <= static_cast<int64_t>(text.size()));
  }
}
