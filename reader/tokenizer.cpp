// WordPiece tokenizer equal to Hugging Face tokenizers' BertNormalizer +
// BertPreTokenizer + WordPiece (what transformers' BertTokenizer runs), with the
// byte range of the original text behind every token. This file: the Tokenizer, its
// vocabulary and settings from HF's files, and special-token matching; the text goes
// through bert_normalizer.h (normalization, pre-tokenization; character classes in
// hf_unicode.h) into wordpiece.h.
#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "bert_normalizer.h"
#include "hf_unicode.h"
#include "longqa/common/errors.h"
#include "longqa/tokenizer.h"
#include "tokenizer_json.h"
#include "wordpiece.h"

namespace longqa {
namespace {

using json = nlohmann::json;
using tokenization::is_whitespace;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileFormatError(path, "cannot open");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

json read_json(const std::string& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw FileFormatError(path, std::string("invalid JSON: ") + e.what());
  }
}

// A token setting in tokenizer_config.json: a string, or an AddedToken object.
std::string token_content(const json& value, const std::string& path, const std::string& key) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string())
    return value["content"].get<std::string>();
  throw FileFormatError(path, "\"" + key + "\" is not a token");
}

// The special-token settings of transformers' tokenizer_config.json or
// special_tokens_map.json. bos/eos and additional_special_tokens are returned, for the
// caller to keep those the vocabulary has.
std::vector<std::string> read_special_tokens(const json& config, const std::string& path, TokenizerOptions& options) {
  const std::pair<const char*, std::string*> named[] = {{"unk_token", &options.unk_token},
                                                        {"cls_token", &options.cls_token},
                                                        {"sep_token", &options.sep_token},
                                                        {"pad_token", &options.pad_token},
                                                        {"mask_token", &options.mask_token}};
  for (const auto& [key, field] : named)
    if (config.contains(key) && !config[key].is_null()) *field = token_content(config[key], path, key);
  std::vector<std::string> extra;
  for (const char* key : {"bos_token", "eos_token"})
    if (config.contains(key) && !config[key].is_null()) extra.push_back(token_content(config[key], path, key));
  if (config.contains("additional_special_tokens") && config["additional_special_tokens"].is_array())
    for (const json& t : config["additional_special_tokens"])
      extra.push_back(token_content(t, path, "additional_special_tokens"));
  return extra;
}

bool get_bool(const json& config, const char* key, bool fallback, const std::string& path) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  if (!config[key].is_boolean()) throw FileFormatError(path, std::string("\"") + key + "\" must be true or false");
  return config[key].get<bool>();
}

// strip_accents: null follows lowercase (-1), else 0 or 1.
int get_strip_accents(const json& config, const std::string& path) {
  if (!config.contains("strip_accents") || config["strip_accents"].is_null()) return -1;
  return get_bool(config, "strip_accents", false, path) ? 1 : 0;
}

// vocab.txt as HF tokenizers' WordPiece::read_file reads it: one token per line
// ("\n" or "\r\n"), trailing whitespace trimmed, the line number as id.
std::vector<std::string> read_vocab_lines(const std::string& path) {
  const std::string content = read_file(path);
  std::vector<std::string> vocab;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t eol = content.find('\n', pos);
    if (eol == std::string::npos) eol = content.size();
    const std::string_view line(content.data() + pos, eol - pos);
    size_t keep = 0;  // end of the last char that is not whitespace
    for (size_t i = 0; i < line.size();) {
      const Utf8Char c = decode_utf8(line, i);
      if (!c.valid)
        throw FileFormatError(path, "line " + std::to_string(vocab.size() + 1) + " is not valid UTF-8");
      i += c.length;
      if (!is_whitespace(c.cp)) keep = i;
    }
    vocab.emplace_back(line.substr(0, keep));
    pos = eol + 1;
  }
  return vocab;
}

// The parts of an HF tokenizer.json this tokenizer implements; anything else is
// refused rather than silently tokenized differently.
void parse_tokenizer_json(const std::string& path, std::vector<std::string>& vocab,
                          std::unordered_map<std::string, int32_t>& ids, TokenizerOptions& options) {
  const json config = read_json(path);
  const auto refuse = [&](const std::string& what) {
    throw FileFormatError(path, "unsupported " + what +
                                    " (only BertNormalizer, BertPreTokenizer and WordPiece are supported)");
  };
  const auto type_of = [](const json& component) {
    return component.is_object() && component.contains("type") && component["type"].is_string()
               ? component["type"].get<std::string>()
               : std::string(component.is_null() ? "none" : "?");
  };

  const json normalizer = config.value("normalizer", json());
  if (normalizer.is_null()) {
    options.clean_text = options.tokenize_chinese_chars = options.lowercase = false;
    options.strip_accents = 0;
  } else if (type_of(normalizer) == "BertNormalizer") {
    options.clean_text = get_bool(normalizer, "clean_text", true, path);
    options.tokenize_chinese_chars = get_bool(normalizer, "handle_chinese_chars", true, path);
    options.lowercase = get_bool(normalizer, "lowercase", true, path);
    options.strip_accents = get_strip_accents(normalizer, path);
  } else {
    refuse("normalizer \"" + type_of(normalizer) + "\"");
  }
  const json pre_tokenizer = config.value("pre_tokenizer", json());
  if (type_of(pre_tokenizer) != "BertPreTokenizer") refuse("pre_tokenizer \"" + type_of(pre_tokenizer) + "\"");
  const json model = config.value("model", json());
  if (type_of(model) != "WordPiece") refuse("model \"" + type_of(model) + "\"");
  if (!model.contains("vocab") || !model["vocab"].is_object())
    throw FileFormatError(path, "WordPiece without a vocab");
  options.unk_token = model.value("unk_token", options.unk_token);
  options.continuing_subword_prefix = model.value("continuing_subword_prefix", options.continuing_subword_prefix);
  options.max_input_chars_per_word = model.value("max_input_chars_per_word", options.max_input_chars_per_word);

  const auto add = [&](const std::string& token, const json& id) {
    // The bound keeps a corrupt id from sizing the vocabulary to gigabytes.
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (int64_t{1} << 24))
      throw FileFormatError(path, "bad id for token \"" + token + "\"");
    const auto i = static_cast<int32_t>(id.get<int64_t>());
    ids[token] = i;
    if (static_cast<size_t>(i) >= vocab.size()) vocab.resize(static_cast<size_t>(i) + 1);
    vocab[static_cast<size_t>(i)] = token;
  };
  for (const auto& entry : model["vocab"].items()) add(entry.key(), entry.value());
  // Added tokens are matched in the raw text; those matched after normalization or
  // with whitespace handling are not supported.
  for (const json& added : config.value("added_tokens", json::array())) {
    const std::string content = added.value("content", std::string());
    for (const char* flag : {"normalized", "lstrip", "rstrip", "single_word"})
      if (added.value(flag, false)) refuse(std::string("added token \"") + content + "\" with " + flag + "=true");
    add(content, added.value("id", json()));
    options.extra_special_tokens.push_back(content);
  }
}

bool is_bert_wordpiece(const json& config);

// Whether a tokenizer.json is the BERT WordPiece that parse_tokenizer_json reads (and
// tokenize() streams); everything else goes through tokenizer_json.h.
bool is_bert_wordpiece(const std::string& path) {
  const json config = read_json(path);
  if (!config.is_object()) return false;
  try {
    return is_bert_wordpiece(config);
  } catch (const json::exception&) {
    return false;  // an odd field: the general reader names it
  }
}

bool is_bert_wordpiece(const json& config) {
  const auto type_of = [](const json& c) {
    return c.is_object() && c.contains("type") && c["type"].is_string() ? c["type"].get<std::string>() : std::string();
  };
  const json normalizer = config.value("normalizer", json());
  if (!normalizer.is_null() && type_of(normalizer) != "BertNormalizer") return false;
  if (type_of(config.value("pre_tokenizer", json())) != "BertPreTokenizer") return false;
  if (type_of(config.value("model", json())) != "WordPiece") return false;
  const json post = config.value("post_processor", json());
  if (!post.is_null() && type_of(post) != "BertProcessing" && type_of(post) != "TemplateProcessing") return false;
  for (const json& added : config.value("added_tokens", json::array()))
    for (const char* flag : {"normalized", "lstrip", "rstrip", "single_word"})
      if (added.is_object() && added.value(flag, false)) return false;
  return true;
}

// A repeated token keeps its last id, as HF's vocabulary map does.
std::unordered_map<std::string, int32_t> ids_of(const std::vector<std::string>& vocab) {
  std::unordered_map<std::string, int32_t> ids;
  ids.reserve(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) ids[vocab[i]] = static_cast<int32_t>(i);
  return ids;
}

}  // namespace

Tokenizer::Tokenizer(std::vector<std::string> vocab, TokenizerOptions options)
    : Tokenizer(vocab, ids_of(vocab), std::move(options)) {}

Tokenizer::Tokenizer(std::vector<std::string> vocab, std::unordered_map<std::string, int32_t> ids,
                     TokenizerOptions options)
    : vocab_(std::move(vocab)), ids_(std::move(ids)), options_(std::move(options)) {
  std::string missing;
  const auto special = [&](const std::string& token) {
    const auto it = ids_.find(token);
    if (it != ids_.end()) return it->second;
    missing += (missing.empty() ? "" : ", ") + ("\"" + token + "\"");
    return int32_t{-1};
  };
  unk_id_ = special(options_.unk_token);
  cls_id_ = special(options_.cls_token);
  sep_id_ = special(options_.sep_token);
  pad_id_ = special(options_.pad_token);
  mask_id_ = special(options_.mask_token);
  std::vector<std::string> specials = {options_.unk_token, options_.cls_token, options_.sep_token,
                                       options_.pad_token, options_.mask_token};
  for (const std::string& t : options_.extra_special_tokens) {
    special(t);
    specials.push_back(t);
  }
  if (!missing.empty()) throw std::invalid_argument("special tokens missing from the vocabulary: " + missing);

  // Longest first, so that matching at a position picks the longest (HF's leftmost-longest).
  std::sort(specials.begin(), specials.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  specials.erase(std::unique(specials.begin(), specials.end()), specials.end());
  for (const std::string& t : specials)
    if (!t.empty()) special_tokens_.emplace_back(t, ids_.at(t));
  for (const auto& entry : ids_) max_token_bytes_ = std::max(max_token_bytes_, entry.first.size());
}

Tokenizer Tokenizer::from_vocab_file(const std::string& vocab_path) {
  std::vector<std::string> vocab = read_vocab_lines(vocab_path);
  // transformers' BertTokenizer settings and defaults (do_lower_case defaults to true).
  TokenizerOptions options;
  const std::filesystem::path dir = std::filesystem::path(vocab_path).parent_path();
  std::vector<std::string> extra;
  const std::string config_path = (dir / "tokenizer_config.json").string();
  if (std::filesystem::exists(config_path)) {
    const json config = read_json(config_path);
    options.lowercase = get_bool(config, "do_lower_case", true, config_path);
    options.strip_accents = get_strip_accents(config, config_path);
    options.tokenize_chinese_chars = get_bool(config, "tokenize_chinese_chars", true, config_path);
    extra = read_special_tokens(config, config_path, options);
  }
  // special_tokens_map.json wins over tokenizer_config.json, as in transformers.
  const std::string map_path = (dir / "special_tokens_map.json").string();
  if (std::filesystem::exists(map_path))
    for (std::string& t : read_special_tokens(read_json(map_path), map_path, options)) extra.push_back(std::move(t));
  // bos/eos that the vocabulary lacks would be new tokens past it in transformers,
  // meaningless to the model's embeddings: such text stays ordinary text here.
  const std::unordered_set<std::string> known(vocab.begin(), vocab.end());
  for (const std::string& t : extra)
    if (known.count(t)) options.extra_special_tokens.push_back(t);
  try {
    return Tokenizer(std::move(vocab), std::move(options));
  } catch (const std::invalid_argument& e) {
    throw FileFormatError(vocab_path, e.what());
  }
}

Tokenizer::Tokenizer(std::shared_ptr<const tokenization::Pipeline> pipeline)
    : vocab_(pipeline->vocab()), ids_(pipeline->ids()), pipeline_(std::move(pipeline)) {
  options_.unk_token = pipeline_->unk_token;
  options_.cls_token = pipeline_->cls_token;
  options_.sep_token = pipeline_->sep_token;
  options_.pad_token = pipeline_->pad_token;
  options_.mask_token = pipeline_->mask_token;
  const auto id_of = [&](const std::string& token) {
    const auto it = ids_.find(token);
    return token.empty() || it == ids_.end() ? int32_t{-1} : it->second;
  };
  unk_id_ = id_of(options_.unk_token);
  cls_id_ = id_of(options_.cls_token);
  sep_id_ = id_of(options_.sep_token);
  pad_id_ = id_of(options_.pad_token);
  mask_id_ = id_of(options_.mask_token);
}

Tokenizer Tokenizer::from_pipeline(std::shared_ptr<const tokenization::Pipeline> pipeline, const std::string& dir) {
  Tokenizer tokenizer(std::move(pipeline));
  const std::string beside = (std::filesystem::path(dir) / "tokenizer_config.json").string();
  if (std::filesystem::exists(beside)) {
    TokenizerOptions names = tokenizer.options_;
    read_special_tokens(read_json(beside), beside, names);
    const std::pair<std::pair<const std::string*, std::string*>, int32_t*> fields[] = {
        {{&names.unk_token, &tokenizer.options_.unk_token}, &tokenizer.unk_id_},
        {{&names.cls_token, &tokenizer.options_.cls_token}, &tokenizer.cls_id_},
        {{&names.sep_token, &tokenizer.options_.sep_token}, &tokenizer.sep_id_},
        {{&names.pad_token, &tokenizer.options_.pad_token}, &tokenizer.pad_id_},
        {{&names.mask_token, &tokenizer.options_.mask_token}, &tokenizer.mask_id_}};
    for (const auto& [name, id] : fields) {
      const auto it = tokenizer.ids_.find(*name.first);
      if (it != tokenizer.ids_.end()) *id = it->second, *name.second = *name.first;
    }
  }
  return tokenizer;
}

Tokenizer Tokenizer::from_tokenizer_json(const std::string& path) {
  if (!is_bert_wordpiece(path))
    return from_pipeline(tokenization::Pipeline::load(path), std::filesystem::path(path).parent_path().string());
  std::vector<std::string> vocab;
  std::unordered_map<std::string, int32_t> ids;
  TokenizerOptions options;
  try {
    parse_tokenizer_json(path, vocab, ids, options);
  } catch (const json::exception& e) {  // a field of the wrong type
    throw FileFormatError(path, e.what());
  }
  // Names of [CLS] and the like, which tokenizer.json does not record.
  const std::string beside = (std::filesystem::path(path).parent_path() / "tokenizer_config.json").string();
  if (std::filesystem::exists(beside)) read_special_tokens(read_json(beside), beside, options);
  try {
    return Tokenizer(std::move(vocab), std::move(ids), std::move(options));
  } catch (const std::invalid_argument& e) {
    throw FileFormatError(path, e.what());
  }
}

Tokenizer Tokenizer::from_directory(const std::string& dir) {
  const std::filesystem::path root(dir);
  if (std::filesystem::exists(root / "tokenizer.json")) return from_tokenizer_json((root / "tokenizer.json").string());
  if (std::filesystem::exists(root / "vocab.txt")) return from_vocab_file((root / "vocab.txt").string());
  for (const char* sp : {"sentencepiece.bpe.model", "tokenizer.model", "spiece.model"})
    if (std::filesystem::exists(root / sp))
      throw FileFormatError((root / sp).string(),
                            "SentencePiece model files are not read; convert it to tokenizer.json with Hugging Face "
                            "(python -c \"from transformers import AutoTokenizer; AutoTokenizer.from_pretrained('" +
                                dir + "').save_pretrained('" + dir +
                                "')\", which runs transformers' convert_slow_tokenizer and needs sentencepiece)");
  if (std::filesystem::exists(root / "vocab.json") && std::filesystem::exists(root / "merges.txt"))
    return from_pipeline(tokenization::Pipeline::load_vocab_merges(dir), dir);
  throw FileFormatError(dir, "no tokenizer.json or vocab.txt");
}

std::string Tokenizer::model_type() const { return pipeline_ ? pipeline_->model_type() : "WordPiece"; }

Encoding Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return encode_impl(text, nullptr, add_special_tokens);
}

Encoding Tokenizer::encode_pair(std::string_view text, std::string_view pair, bool add_special_tokens) const {
  return encode_impl(text, &pair, add_special_tokens);
}

Encoding Tokenizer::encode_impl(std::string_view text, const std::string_view* pair, bool add_special_tokens) const {
  if (pipeline_) return pipeline_->encode(text, pair, add_special_tokens);
  // BertProcessing: [CLS] A [SEP] (B [SEP]), type ids 0 then 1.
  Encoding out;
  const auto special = [&](int32_t id, const std::string& name, int32_t type_id) {
    if (!add_special_tokens) return;
    out.tokens.push_back({id, name, 0, 0});
    out.type_ids.push_back(type_id);
    out.sequence_ids.push_back(-1);
  };
  const auto sequence = [&](std::string_view t, int32_t seq) {
    for (Token& token : tokenize(t)) {
      out.tokens.push_back(std::move(token));
      out.type_ids.push_back(seq);
      out.sequence_ids.push_back(seq);
    }
  };
  special(cls_id_, options_.cls_token, 0);
  sequence(text, 0);
  special(sep_id_, options_.sep_token, 0);
  if (pair) {
    sequence(*pair, 1);
    special(sep_id_, options_.sep_token, 1);
  }
  return out;
}

PairTemplate Tokenizer::pair_template() const {
  const Encoding probe = encode_pair("a", "b");
  PairTemplate t;
  // Special tokens go before the first text, between the texts or after the second, by what came before them.
  int32_t seen = -1;  // the last text seen: -1 none, 0 the first, 1 the second
  for (size_t i = 0; i < probe.tokens.size(); ++i) {
    const int32_t sequence = probe.sequence_ids[i];
    if (sequence >= 0) {
      seen = sequence;
      (sequence == 0 ? t.question_type : t.document_type) = probe.type_ids[i];
      continue;
    }
    auto& ids = seen < 0 ? t.before : seen == 0 ? t.between : t.after;
    auto& types = seen < 0 ? t.before_types : seen == 0 ? t.between_types : t.after_types;
    ids.push_back(probe.tokens[i].id);
    types.push_back(probe.type_ids[i]);
  }
  return t;
}

std::vector<Token> Tokenizer::tokenize(std::string_view text) const {
  if (pipeline_) return pipeline_->encode(text, nullptr, false).tokens;
  std::vector<Token> tokens;
  tokens.reserve(text.size() / 4);
  const tokenization::WordPieceModel model{ids_, options_, unk_id_, max_token_bytes_};
  tokenization::WordPiece wordpiece(model, tokens);
  tokenization::BertNormalizer normalizer(options_, wordpiece);

  std::array<bool, 256> starts_special{};
  if (!options_.split_special_tokens)
    for (const auto& [token, id] : special_tokens_) starts_special[static_cast<unsigned char>(token[0])] = true;

  for (size_t pos = 0; pos < text.size();) {
    const auto byte = static_cast<unsigned char>(text[pos]);
    if (starts_special[byte]) {
      const auto match = std::find_if(special_tokens_.begin(), special_tokens_.end(), [&](const auto& special) {
        return text.compare(pos, special.first.size(), special.first) == 0;
      });
      if (match != special_tokens_.end()) {
        normalizer.finish();
        const auto begin = static_cast<int64_t>(pos);
        tokens.push_back({match->second, match->first, begin, begin + static_cast<int64_t>(match->first.size())});
        pos += match->first.size();
        continue;
      }
    }
    Utf8Char c{byte, 1, true};
    if (byte >= 0x80) {
      c = decode_utf8(text, pos);
      if (!c.valid && !options_.replace_invalid_utf8)
        throw std::invalid_argument("invalid UTF-8 at byte offset " + std::to_string(pos));
    }
    normalizer.push(c.cp, {static_cast<int64_t>(pos), static_cast<int64_t>(pos + c.length)});
    pos += c.length;
  }
  normalizer.finish();
  return tokens;
}

int32_t Tokenizer::token_to_id(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? unk_id_ : it->second;
}

const std::string& Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.size())
    throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary");
  return vocab_[static_cast<size_t>(id)];
}

std::vector<std::string> vocabulary_subset(const Tokenizer& tokenizer, const std::vector<std::string>& texts) {
  const auto& vocab = tokenizer.vocab();
  std::vector<bool> keep(vocab.size(), false);
  const TokenizerOptions& o = tokenizer.options();
  const auto keep_id = [&](int32_t id) {
    if (id >= 0 && static_cast<size_t>(id) < keep.size()) keep[static_cast<size_t>(id)] = true;
  };
  for (const std::string* special : {&o.unk_token, &o.cls_token, &o.sep_token, &o.pad_token, &o.mask_token})
    keep_id(tokenizer.token_to_id(*special));
  for (const auto& t : o.extra_special_tokens) keep_id(tokenizer.token_to_id(t));
  for (const auto& text : texts) {
    for (const Token& t : tokenizer.tokenize(text)) {
      keep[static_cast<size_t>(t.id)] = true;
      // The characters this piece came from, as words and as continuations.
      const std::string_view source = std::string_view(text).substr(static_cast<size_t>(t.begin),
                                                                     static_cast<size_t>(t.end - t.begin));
      for (size_t at = 0; at < source.size();) {
        const auto c = decode_utf8(source, at);
        // The piece's own normalisation (lowercase, accents) decides what is in the vocabulary:
        // tokenize the one character alone and keep what it becomes, as a word and after ##.
        const std::string one(source.substr(at, c.length));
        for (const Token& piece : tokenizer.tokenize(one)) {
          keep[static_cast<size_t>(piece.id)] = true;
          const int32_t continuation = tokenizer.token_to_id(o.continuing_subword_prefix + piece.text);
          if (continuation != tokenizer.unk_id()) keep[static_cast<size_t>(continuation)] = true;
        }
        at += c.length;
      }
    }
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < vocab.size(); ++i)
    if (keep[i]) out.push_back(vocab[i]);
  return out;
}

}  // namespace longqa
