// The WordPiece tokenizer on hand-checked cases (no Python needed): splitting,
// normalization, offsets, invalid UTF-8, loading vocabularies and refusing others.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "longqa/tokenizer.h"

using longqa::Token;
using longqa::Tokenizer;
using longqa::TokenizerOptions;

namespace {

const std::vector<std::string> kSpecials = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

Tokenizer make_tokenizer(std::vector<std::string> words, TokenizerOptions options = {}) {
  std::vector<std::string> vocab = kSpecials;
  vocab.insert(vocab.end(), words.begin(), words.end());
  return Tokenizer(vocab, options);
}

// A small uncased vocabulary.
Tokenizer uncased(TokenizerOptions options = {}) {
  return make_tokenizer({"hello", "world", ",", "!", ".", "-", "un", "##aff", "##able", "the", "cafe", "naive", "i",
                         "##\xcc\x87" /* U+0307 */, "a", "##a", "\xe4\xb8\xad" /* 中 */, "\xe6\x96\x87" /* 文 */,
                         "##world", "\xc3\xa9" /* é */, "##\xc3\xa9", "e", "##e", "\xef\xbf\xbd" /* U+FFFD */},
                        options);
}

std::vector<std::string> texts(const std::vector<Token>& tokens) {
  std::vector<std::string> out;
  for (const Token& t : tokens) out.push_back(t.text);
  return out;
}

std::vector<std::pair<int64_t, int64_t>> spans(const std::vector<Token>& tokens) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const Token& t : tokens) out.emplace_back(t.begin, t.end);
  return out;
}

using Spans = std::vector<std::pair<int64_t, int64_t>>;
using Strings = std::vector<std::string>;

// A fresh directory, removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("longqa-tokenizer-" + std::to_string(std::random_device()()) + std::to_string(std::random_device()()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path / name, std::ios::binary) << content;
    return (path / name).string();
  }
};

std::string strip_prefix(const std::string& token) { return token.rfind("##", 0) == 0 ? token.substr(2) : token; }

const std::string kKoBigBird = std::string(LONGQA_SOURCE_DIR) + "/models/vocab/kobigbird/vocab.txt";

}  // namespace

TEST_CASE("splits on whitespace and punctuation, with byte offsets", "[tokenizer]") {
  const Tokenizer tok = uncased();
  const auto tokens = tok.tokenize("Hello, world!");
  CHECK(texts(tokens) == Strings{"hello", ",", "world", "!"});
  CHECK(spans(tokens) == Spans{{0, 5}, {5, 6}, {7, 12}, {12, 13}});
  CHECK(tokens[0].id == tok.token_to_id("hello"));
  // Every ASCII symbol is punctuation to BERT, and so is Unicode P*.
  CHECK(texts(tok.tokenize("a-a.a")) == Strings{"a", "-", "a", ".", "a"});
  CHECK(texts(tok.tokenize("hello\xe3\x80\x82world")) == Strings{"hello", "[UNK]", "world"});  // U+3002
}

TEST_CASE("greedy longest-match pieces carry ## and sub-ranges", "[tokenizer]") {
  const Tokenizer tok = uncased();
  const auto tokens = tok.tokenize("unaffable the");
  CHECK(texts(tokens) == Strings{"un", "##aff", "##able", "the"});
  CHECK(spans(tokens) == Spans{{0, 2}, {2, 5}, {5, 9}, {10, 13}});
  CHECK(tokens[1].id == tok.token_to_id("##aff"));
}

TEST_CASE("unknown words and over-long words are one [UNK]", "[tokenizer]") {
  const Tokenizer tok = uncased();
  CHECK(texts(tok.tokenize("xyz")) == Strings{"[UNK]"});
  // One unmatched part makes the whole word unknown.
  auto tokens = tok.tokenize("hello unaffxyz");
  CHECK(texts(tokens) == Strings{"hello", "[UNK]"});
  CHECK(spans(tokens) == Spans{{0, 5}, {6, 14}});
  CHECK(tokens[1].id == tok.unk_id());
  // max_input_chars_per_word = 100, counted in normalized chars.
  CHECK(tok.tokenize(std::string(100, 'a')).size() == 100);
  tokens = tok.tokenize("hello " + std::string(101, 'a'));
  CHECK(texts(tokens) == Strings{"hello", "[UNK]"});
  CHECK(spans(tokens) == Spans{{0, 5}, {6, 107}});
}

TEST_CASE("CJK ideographs are words of their own", "[tokenizer]") {
  const std::string text = "\xe4\xb8\xad\xe6\x96\x87";  // 中文
  CHECK(spans(uncased().tokenize(text)) == Spans{{0, 3}, {3, 6}});
  TokenizerOptions options;
  options.tokenize_chinese_chars = false;
  CHECK(texts(uncased(options).tokenize(text)) == Strings{"[UNK]"});
  // Hiragana and Hangul are not in BERT's CJK ranges: one word.
  CHECK(uncased().tokenize("\xe3\x81\x82\xe3\x81\x84").size() == 1);
}

TEST_CASE("lowercasing and accent stripping keep offsets on the original chars", "[tokenizer]") {
  const Tokenizer tok = uncased();
  auto tokens = tok.tokenize("Caf\xc3\xa9 NA\xc3\x8fVE");  // Café NAÏVE
  CHECK(texts(tokens) == Strings{"cafe", "naive"});
  CHECK(spans(tokens) == Spans{{0, 5}, {6, 12}});
  // Already decomposed, e + U+0301: the dropped mark belongs to no token, as in HF.
  tokens = tok.tokenize("Cafe\xcc\x81!");
  CHECK(texts(tokens) == Strings{"cafe", "!"});
  CHECK(spans(tokens) == Spans{{0, 4}, {6, 7}});
  // 'İ' lowercases to "i" + U+0307; with accent stripping the mark goes.
  tokens = tok.tokenize("\xc4\xb0");
  CHECK(texts(tokens) == Strings{"i"});
  CHECK(spans(tokens) == Spans{{0, 2}});
  TokenizerOptions keep;
  keep.strip_accents = 0;
  tokens = uncased(keep).tokenize("\xc4\xb0");
  CHECK(texts(tokens) == Strings{"i", "##\xcc\x87"});
  CHECK(spans(tokens) == Spans{{0, 2}, {0, 2}});  // both pieces come from the one char
  // Without stripping, é stays é; cased, "Hello" is unknown.
  CHECK(texts(uncased(keep).tokenize("\xc3\xa9\xc3\xa9")) == Strings{"\xc3\xa9", "##\xc3\xa9"});
  TokenizerOptions cased;
  cased.lowercase = false;
  CHECK(texts(uncased(cased).tokenize("Hello hello")) == Strings{"[UNK]", "hello"});
}

TEST_CASE("control and format chars are dropped, whitespace of every kind splits", "[tokenizer]") {
  const Tokenizer tok = uncased();
  auto tokens = tok.tokenize(std::string("\x01hel\xe2\x80\x8blo\x7f", 10));  // U+200B inside the word
  CHECK(texts(tokens) == Strings{"hello"});
  CHECK(spans(tokens) == Spans{{1, 9}});
  tokens = tok.tokenize(std::string("hello\0world", 11));
  CHECK(texts(tokens) == Strings{"hello", "##world"});
  // NBSP, ideographic space, line separator, tab, CR LF.
  tokens = tok.tokenize("hello\xc2\xa0world\xe3\x80\x80hello\xe2\x80\xa8world\thello\r\nworld");
  CHECK(texts(tokens) == Strings{"hello", "world", "hello", "world", "hello", "world"});
}

TEST_CASE("empty and whitespace-only input give no tokens", "[tokenizer]") {
  const Tokenizer tok = uncased();
  CHECK(tok.tokenize("").empty());
  CHECK(tok.tokenize(" \t\n\r \xe3\x80\x80 ").empty());
  CHECK(tok.tokenize("\xe2\x80\x8b\x01").empty());
}

TEST_CASE("special tokens in the text are matched unless split_special_tokens", "[tokenizer]") {
  const Tokenizer tok = uncased();
  auto tokens = tok.tokenize("hello[SEP]world [MASK] [sep]");
  CHECK(texts(tokens) == Strings{"hello", "[SEP]", "world", "[MASK]", "[UNK]", "[UNK]", "[UNK]"});
  CHECK(tokens[1].id == tok.sep_id());
  CHECK(spans(tokens).at(1) == std::pair<int64_t, int64_t>{5, 10});
  TokenizerOptions options;
  options.split_special_tokens = true;
  CHECK(texts(uncased(options).tokenize("[SEP]")) == Strings{"[UNK]", "[UNK]", "[UNK]"});
}

TEST_CASE("offsets slice the original text to what the token came from", "[tokenizer]") {
  // A per-char vocabulary, so that every normalized char is a token of its own, on
  // random texts of letters, accents, CJK, Hangul, symbols, controls and whitespace.
  const std::vector<std::string> alphabet = {
      "a", "b", "Z", "\xc3\xa9", "\xc3\x89", "e\xcc\x81", "\xc4\xb0", "\xc3\x9f", "\xe4\xb8\xad", "\xed\x95\x9c",
      "\xea\xb8\x80", "\xf0\x9f\x98\x80", ",", "!", " ", "\t", "\n", "\xc2\xa0", "\xe2\x80\x8b", "\x01", "\xcc\x81",
      "\xef\xbc\xa1", "1", "\xd9\x85", "\xe0\xa4\xa8\xe0\xa5\x8d"};
  std::vector<std::string> chars = {"a", "b", "z", "e", "\xc3\x9f", "i", "\xe4\xb8\xad", "\xed\x95\x9c", "\xea\xb8\x80",
                                    "\xf0\x9f\x98\x80", ",", "!", "\xef\xbd\x81", "1", "\xd9\x85", "\xe0\xa4\xa8",
                                    "\xe0\xa5\x8d", "\xe1\x84\x92", "\xe1\x85\xa1", "\xe1\x86\xab", "\xe1\x84\x80",
                                    "\xe1\x85\xb3", "\xe1\x86\xaf"};
  std::vector<std::string> words = chars;
  for (const std::string& c : chars) words.push_back("##" + c);
  TokenizerOptions options;  // lowercase and strip accents: Hangul decomposes to jamo
  const Tokenizer tok = make_tokenizer(words, options);

  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 30);  // Hangul triples: words stay under 100 chars
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    const auto tokens = tok.tokenize(text);
    int64_t previous_begin = 0;
    for (const Token& t : tokens) {
      INFO("text \"" << text << "\" token \"" << t.text << "\"");
      REQUIRE(t.text != "[UNK]");
      REQUIRE(0 <= t.begin);
      REQUIRE(t.begin < t.end);
      REQUIRE(t.end <= static_cast<int64_t>(text.size()));
      REQUIRE(t.begin >= previous_begin);
      previous_begin = t.begin;
      // The slice, tokenized on its own, yields the token's text.
      std::string again;
      const std::string slice = text.substr(static_cast<size_t>(t.begin), static_cast<size_t>(t.end - t.begin));
      for (const Token& u : tok.tokenize(slice)) again += strip_prefix(u.text);
      CHECK(again.find(strip_prefix(t.text)) != std::string::npos);
    }
  }
}

TEST_CASE("invalid UTF-8 is refused with its byte offset, or replaced", "[tokenizer]") {
  const Tokenizer tok = uncased();
  const std::vector<std::pair<std::string, int64_t>> bad = {
      {"hello \xc3", 6},                  // truncated 2-byte sequence at the end
      {"hello \xe2\x82world", 6},         // truncated 3-byte sequence
      {"\xf0\x9f\x98", 0},                // truncated 4-byte sequence
      {"ab\xc0\x80", 2},                  // overlong NUL
      {"ab\xe0\x80\xaf", 2},              // overlong '/'
      {"abc\xed\xa0\x80", 3},             // UTF-16 surrogate U+D800
      {"\x80hello", 0},                   // stray continuation byte
      {"hello\xff", 5},                   // never valid
      {"\xf4\x90\x80\x80", 0},            // past U+10FFFF
      {"a\xf8\x88\x80\x80\x80", 1}};      // 5-byte form
  for (const auto& [text, offset] : bad) {
    INFO("offset " << offset);
    CHECK_THROWS_AS(tok.tokenize(text), std::invalid_argument);
    CHECK_THROWS_WITH(tok.tokenize(text), Catch::Contains("byte offset " + std::to_string(offset)));
    CHECK_THROWS_AS(longqa::validate_utf8(text), std::invalid_argument);
  }

  TokenizerOptions replace;
  replace.replace_invalid_utf8 = true;
  // U+FFFD is dropped by clean_text, as HF drops it, so the word closes up.
  auto tokens = uncased(replace).tokenize("hello\xffworld \xed\xa0\x80!");
  CHECK(texts(tokens) == Strings{"hello", "##world", "!"});
  CHECK(spans(tokens) == Spans{{0, 5}, {6, 11}, {15, 16}});
  for (const auto& [text, offset] : bad) {
    for (const Token& t : uncased(replace).tokenize(text)) {
      CHECK(t.begin <= t.end);
      CHECK(t.end <= static_cast<int64_t>(text.size()));
    }
  }
  // Without clean_text each ill-formed part is one U+FFFD with its own byte range.
  replace.clean_text = false;
  tokens = uncased(replace).tokenize("\xe0\x80\xaf \xf0\x9f\x98 \xc3");
  CHECK(texts(tokens) == Strings{"[UNK]", "\xef\xbf\xbd", "\xef\xbf\xbd"});  // "##\xef\xbf\xbd" is unknown
  CHECK(spans(tokens) == Spans{{0, 3}, {4, 7}, {8, 9}});
}

TEST_CASE("random bytes: replaced or refused, offsets within the text", "[tokenizer]") {
  TokenizerOptions replace;
  replace.replace_invalid_utf8 = true;
  const Tokenizer strict = uncased(), lenient = uncased(replace);
  const std::vector<unsigned char> bytes = {'a', 'e', ' ', '!', 0x00, 0x7F, 0x80, 0x8F, 0xA0, 0xBF, 0xC0, 0xC3,
                                            0xCC, 0xE0, 0xE4, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
  std::mt19937 rng(11);
  for (int round = 0; round < 2000; ++round) {
    std::string text(rng() % 24, ' ');
    for (char& b : text) b = static_cast<char>(bytes[rng() % bytes.size()]);
    int64_t previous_begin = 0;
    for (const Token& t : lenient.tokenize(text)) {
      REQUIRE(previous_begin <= t.begin);
      REQUIRE(t.begin <= t.end);
      REQUIRE(t.end <= static_cast<int64_t>(text.size()));
      previous_begin = t.begin;
    }
    bool valid = true;
    try {
      longqa::validate_utf8(text);
    } catch (const std::invalid_argument&) {
      valid = false;
    }
    if (valid) {
      CHECK(strict.tokenize(text).size() == lenient.tokenize(text).size());
    } else {
      CHECK_THROWS_AS(strict.tokenize(text), std::invalid_argument);
    }
  }
}

TEST_CASE("decode_utf8 reads maximal subparts and never past the end", "[tokenizer][utf8]") {
  const auto lengths = [](const std::string& s) {
    std::vector<uint32_t> out;
    for (size_t pos = 0; pos < s.size();) {
      const auto c = longqa::decode_utf8(s, pos);
      out.push_back(c.length);
      pos += c.length;
    }
    return out;
  };
  using L = std::vector<uint32_t>;
  CHECK(lengths("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80") == L{1, 2, 3, 4});
  CHECK(lengths("\xe0\x80\x80") == L{1, 1, 1});  // overlong: E0 needs A0..BF next
  CHECK(lengths("\xed\xa0\x80") == L{1, 1, 1});  // surrogate: ED needs 80..9F next
  CHECK(lengths("\xf0\x9f\x98") == L{3});        // truncated: one replacement
  CHECK(lengths("\xe2\x82x") == L{2, 1});
  CHECK(lengths("\xc0\x80") == L{1, 1});
  const auto emoji = longqa::decode_utf8("\xf0\x9f\x98\x80", 0);
  CHECK(emoji.cp == 0x1F600);
  CHECK(emoji.valid);
  const std::string_view truncated("\xe4\xb8\xad", 2);  // the view ends mid-char
  CHECK(longqa::decode_utf8(truncated, 0).length == 2);
  CHECK_FALSE(longqa::decode_utf8(truncated, 0).valid);
}

TEST_CASE("Utf8Index maps byte offsets to code points and back", "[tokenizer][utf8]") {
  const longqa::Utf8Index index("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80z");
  CHECK(index.num_chars() == 5);
  CHECK(index.char_of_byte(0) == 0);
  CHECK(index.char_of_byte(1) == 1);
  CHECK(index.char_of_byte(3) == 2);
  CHECK(index.char_of_byte(6) == 3);
  CHECK(index.char_of_byte(10) == 4);
  CHECK(index.char_of_byte(11) == 5);
  CHECK(index.byte_of_char(3) == 6);
  CHECK(index.byte_of_char(5) == 11);
  CHECK_THROWS_AS(index.byte_of_char(6), std::out_of_range);
  CHECK_THROWS_AS(index.char_of_byte(12), std::out_of_range);
  CHECK(longqa::Utf8Index("").num_chars() == 0);
  CHECK(longqa::Utf8Index("\xe2\x82x\xff").num_chars() == 3);  // ill-formed parts count once
}

TEST_CASE("vocab.txt: CRLF, no final newline, tokenizer_config.json, missing specials", "[tokenizer]") {
  const TempDir dir;
  const std::string path = dir.write("vocab.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nhello\r\n##s");
  Tokenizer tok = Tokenizer::from_vocab_file(path);
  CHECK(tok.vocab_size() == 7);
  CHECK(tok.token_to_id("##s") == 6);
  CHECK(tok.token_to_id("nope") == tok.unk_id());
  CHECK(tok.options().lowercase);  // BERT's default without a config
  CHECK(texts(tok.tokenize("Hellos")) == Strings{"hello", "##s"});

  dir.write("tokenizer_config.json", R"({"do_lower_case": false, "strip_accents": null, "bos_token": "hello",
                                        "eos_token": {"content": "absent", "__type": "AddedToken"}})");
  tok = Tokenizer::from_vocab_file(path);
  CHECK_FALSE(tok.options().lowercase);
  CHECK(tok.options().strip_accents == -1);
  CHECK(tok.options().extra_special_tokens == Strings{"hello"});  // "absent" is not in the vocabulary
  CHECK(texts(tok.tokenize("Hello xhellos")) == Strings{"[UNK]", "[UNK]", "hello", "[UNK]"});
  CHECK(Tokenizer::from_directory(dir.path.string()).vocab_size() == 7);

  const TempDir other;
  const std::string lacking = other.write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
  CHECK_THROWS_WITH(Tokenizer::from_vocab_file(lacking), Catch::Contains("[MASK]") && Catch::Contains(lacking));
  CHECK_THROWS_WITH(Tokenizer::from_directory(other.path.string() + "/none"), Catch::Contains("no tokenizer.json"));
}

TEST_CASE("tokenizer.json: WordPiece loads, unimplemented parts are refused by name", "[tokenizer]") {
  const TempDir dir;
  const std::string wordpiece = R"({
    "added_tokens": [{"id": 0, "content": "[PAD]", "special": true, "normalized": false,
                      "lstrip": false, "rstrip": false, "single_word": false}],
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                   "strip_accents": null, "lowercase": false},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100,
              "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "Hello": 5, "##s": 7}}})";
  const std::string path = dir.write("tokenizer.json", wordpiece);
  dir.write("vocab.txt", "ignored");  // from_directory prefers tokenizer.json
  const Tokenizer tok = Tokenizer::from_directory(dir.path.string());
  CHECK_FALSE(tok.options().lowercase);
  CHECK(tok.vocab_size() == 8);  // id 6 is a gap
  CHECK(texts(tok.tokenize("Hellos [PAD]")) == Strings{"Hello", "##s", "[PAD]"});

  const auto refused = [&](const std::string& from, const std::string& to, const std::string& named) {
    std::string json = wordpiece;
    json.replace(json.find(from), from.size(), to);
    const std::string bad = dir.write("bad.json", json);
    CHECK_THROWS_WITH(Tokenizer::from_tokenizer_json(bad), Catch::Contains(bad) && Catch::Contains(named));
  };
  // BPE, Unigram, ByteLevel, Metaspace, Sequence... load through tokenizer_json.h
  // (tests/test_tokenizer_json.cpp); what it lacks is refused.
  refused(R"("type": "WordPiece")", R"("type": "WordLevel")", "model \"WordLevel\"");
  refused(R"({"type": "BertPreTokenizer"})", R"({"type": "UnicodeScripts"})", "pre_tokenizer \"UnicodeScripts\"");
  refused(R"("type": "BertNormalizer")", R"("type": "Nmt")", "normalizer \"Nmt\"");
  {
    std::string json = wordpiece;
    json.replace(json.find(R"("normalized": false)"), 19, R"("normalized": true)");
    const Tokenizer normalized = Tokenizer::from_tokenizer_json(dir.write("normalized.json", json));
    CHECK(texts(normalized.tokenize("Hellos [PAD]")) == Strings{"Hello", "##s", "[PAD]"});
  }
  const std::string broken = dir.write("broken.json", "{ not json");
  CHECK_THROWS_WITH(Tokenizer::from_tokenizer_json(broken), Catch::Contains(broken));
}

TEST_CASE("the bundled KoBigBird vocabulary tokenizes Korean", "[tokenizer]") {
  const Tokenizer tok = Tokenizer::from_vocab_file(kKoBigBird);
  CHECK(tok.vocab_size() == 32500);
  CHECK_FALSE(tok.options().lowercase);  // from its tokenizer_config.json
  // 대한민국의 수도는 서울이다.
  const std::string text = "\xeb\x8c\x80\xed\x95\x9c\xeb\xaf\xbc\xea\xb5\xad\xec\x9d\x98 "
                           "\xec\x88\x98\xeb\x8f\x84\xeb\x8a\x94 \xec\x84\x9c\xec\x9a\xb8\xec\x9d\xb4\xeb\x8b\xa4.";
  const auto tokens = tok.tokenize(text);
  // As Hugging Face's BertTokenizer gives them.
  CHECK(texts(tokens) == Strings{"\xeb\x8c\x80\xed\x95\x9c\xeb\xaf\xbc\xea\xb5\xad", "##\xec\x9d\x98",
                                 "\xec\x88\x98\xeb\x8f\x84", "##\xeb\x8a\x94", "\xec\x84\x9c\xec\x9a\xb8",
                                 "##\xec\x9d\xb4\xeb\x8b\xa4", "."});
  std::vector<int32_t> ids;
  for (const Token& t : tokens) ids.push_back(t.id);
  CHECK(ids == std::vector<int32_t>{7343, 4561, 7581, 4741, 6851, 32409, 518});
  CHECK(spans(tokens) == Spans{{0, 12}, {12, 15}, {16, 22}, {22, 25}, {26, 32}, {32, 38}, {38, 39}});
  // Its bos/eos are special tokens too, as transformers treats them.
  CHECK(texts(tok.tokenize("<s>\xec\xa7\x88\xeb\xac\xb8</s>")) == Strings{"<s>", "\xec\xa7\x88\xeb\xac\xb8", "</s>"});
}

TEST_CASE("a vocabulary subset tokenizes its corpus into the same pieces", "[tokenizer]") {
  const Tokenizer full = Tokenizer::from_vocab_file(kKoBigBird);
  // 대한민국의 수도는 서울이다. Seoul is the capital. / 서울특별시
  const std::vector<std::string> corpus = {
      "\xeb\x8c\x80\xed\x95\x9c\xeb\xaf\xbc\xea\xb5\xad\xec\x9d\x98 \xec\x88\x98\xeb\x8f\x84\xeb\x8a\x94 "
      "\xec\x84\x9c\xec\x9a\xb8\xec\x9d\xb4\xeb\x8b\xa4. Seoul is the capital.",
      "\xec\x84\x9c\xec\x9a\xb8\xed\x8a\xb9\xeb\xb3\x84\xec\x8b\x9c (1394)"};
  const auto subset = vocabulary_subset(full, corpus);
  CHECK(subset.size() < 200);
  const Tokenizer small(subset, full.options());
  for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<s>", "</s>"}) {
    INFO(special);
    CHECK((small.token_to_id(special) != small.unk_id() || std::string(special) == "[UNK]"));
  }
  // The original order is kept (the specials come first in KoBigBird's vocabulary).
  CHECK(small.id_to_token(0) == "[PAD]");
  CHECK(small.id_to_token(4) == "[MASK]");
  for (const auto& text : corpus) CHECK(texts(small.tokenize(text)) == texts(full.tokenize(text)));
  // A new word made of the corpus's characters still tokenizes into known pieces: 수서 (two
  // characters that occur, in an order that does not).
  const auto unseen = small.tokenize("\xec\x88\x98\xec\x84\x9c");
  REQUIRE_FALSE(unseen.empty());
  for (const Token& t : unseen) CHECK(t.id != small.unk_id());
}

TEST_CASE("a megabyte tokenizes in linear time", "[tokenizer][performance]") {
  const Tokenizer tok = Tokenizer::from_vocab_file(kKoBigBird);
  const std::vector<std::string> words = {
      "\xeb\x8c\x80\xed\x95\x9c\xeb\xaf\xbc\xea\xb5\xad\xec\x9d\x98", "\xec\x88\x98\xeb\x8f\x84\xeb\x8a\x94", "the",
      "tokenization", "Caf\xc3\xa9", "1,234.5", "\xe6\x9d\xb1\xe4\xba\xac", std::string(150, 'x'), "(note)",
      "\xf0\x9f\x98\x80"};
  std::mt19937 rng(1);
  std::string text;
  while (text.size() < (1 << 20)) text += words[rng() % words.size()] + (rng() % 8 ? " " : "\n");
  const auto start = std::chrono::steady_clock::now();
  const auto tokens = tok.tokenize(text);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN("1 MiB, " << tokens.size() << " tokens in " << seconds << " s");
  CHECK(tokens.size() > 100000);
  CHECK(seconds < 5.0);  // a few hundredths of a second in a Release build; quadratic would take minutes
}
