// The tokenizer against Hugging Face's own output (tests/hf/tokenizer_fixtures.py):
// the same ids, tokens and byte offsets for every text of every configuration.
#include <catch2/catch.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "longqa/tokenizer.h"

using longqa::Token;
using longqa::Tokenizer;
using nlohmann::json;

namespace {

const json& fixtures() {
  static const json cases = [] {
    const std::string path = std::string(LONGQA_HF_FIXTURES) + "/tokenizer/cases.json";
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("no " + path + ": run the hf_reference_fixtures test first");
    return json::parse(in);
  }();
  return cases;
}

Tokenizer load(const json& config) {
  const std::string loader = config["loader"], path = config["path"];
  if (loader == "vocab_file") return Tokenizer::from_vocab_file(path);
  if (loader == "tokenizer_json") return Tokenizer::from_tokenizer_json(path);
  return Tokenizer::from_directory(path);
}

// HF's tokens of one case, offsets rebuilt from the deltas (the long sweeps leave out
// the token strings: they are those of the ids).
std::vector<Token> expected_tokens(const json& c, const Tokenizer& tokenizer) {
  const auto& ids = c["ids"];
  const auto& deltas = c["offset_deltas"];
  std::vector<Token> tokens;
  int64_t end = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t begin = end + deltas[2 * i].get<int64_t>();
    end = begin + deltas[2 * i + 1].get<int64_t>();
    const auto id = ids[i].get<int32_t>();
    const std::string text = c["tokens"].is_null() ? tokenizer.id_to_token(id) : c["tokens"][i].get<std::string>();
    tokens.push_back({id, text, begin, end});
  }
  return tokens;
}

// Tokens [from, from + 5) of a list, with the text they cover, for failure messages.
std::string describe(const std::vector<Token>& tokens, size_t from, std::string_view text) {
  std::ostringstream out;
  for (size_t i = from; i < std::min(tokens.size(), from + 5); ++i) {
    const Token& t = tokens[i];
    out << "#" << i << " id " << t.id << " \"" << t.text << "\" [" << t.begin << "," << t.end << ")";
    if (t.begin >= 0 && t.end <= static_cast<int64_t>(text.size()) && t.begin <= t.end)
      out << " \"" << text.substr(static_cast<size_t>(t.begin), static_cast<size_t>(t.end - t.begin)) << "\"";
    out << "\n";
  }
  return out.str();
}

}  // namespace

TEST_CASE("tokens, ids and byte offsets equal Hugging Face's", "[tokenizer][hf]") {
  const json& all = fixtures();
  size_t texts = 0, tokens = 0;
  for (const json& config : all["configs"]) {
    const std::string name = config["name"];
    INFO("configuration " << name << " (" << config["settings"].get<std::string>() << ")");
    const Tokenizer tokenizer = load(config);
    size_t index = 0;
    for (const json& c : config["cases"]) {
      const std::string text = c["text"];
      const std::vector<Token> want = expected_tokens(c, tokenizer);
      const std::vector<Token> got = tokenizer.tokenize(text);
      size_t i = 0;
      while (i < want.size() && i < got.size() && want[i].id == got[i].id && want[i].begin == got[i].begin &&
             want[i].end == got[i].end && want[i].text == got[i].text)
        ++i;
      INFO("text #" << index << " (" << text.size() << " bytes): \"" << text.substr(0, 120) << "\"");
      INFO("first difference at token " << i << " of " << want.size());
      const size_t from = i < 2 ? 0 : i - 2;
      CHECK(describe(got, from, text) == describe(want, from, text));
      CHECK(got.size() == want.size());
      ++index, ++texts, tokens += want.size();
    }
  }
  std::cout << "compared " << texts << " texts (" << tokens << " tokens) of " << all["configs"].size()
            << " configurations with Hugging Face tokenizers " << all["tokenizers_version"].get<std::string>()
            << " / transformers " << all["transformers_version"].get<std::string>() << "\n";
}
