#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "longqa/tokenizer.h"

namespace longqa::cli {

int tokenize_command(const Argv& argv) {
  Args args("tokenize", "Shows the WordPiece tokens of a text with their ids and character offsets "
                        "(code points, end exclusive) into the original text.");
  args.option("model", "model directory, or a vocab.txt / tokenizer.json file")
      .option("text", "the text")
      .option("file", "read the text from this file (UTF-8)")
      .flag("replace-invalid", "replace invalid UTF-8 by U+FFFD instead of failing")
      .flag("json", "print JSON");
  if (!args.parse(argv)) return 0;
  if (args.is_set("text") == args.is_set("file")) throw std::invalid_argument("give exactly one of --text and --file");
  const std::string text = args.is_set("text") ? args.get("text") : read_text_file(args.get("file"));
  const std::filesystem::path source = args.get("model");

  Tokenizer tokenizer = std::filesystem::is_directory(source) ? Tokenizer::from_directory(source.string())
                        : source.extension() == ".json"      ? Tokenizer::from_tokenizer_json(source.string())
                                                              : Tokenizer::from_vocab_file(source.string());
  if (args.is_set("replace-invalid")) {
    TokenizerOptions options = tokenizer.options();
    options.replace_invalid_utf8 = true;
    tokenizer = Tokenizer(tokenizer.vocab(), options);
  }
  const auto tokens = tokenizer.tokenize(text);
  const Utf8Index index(text);

  if (args.is_set("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : tokens)
      out.push_back({{"token", t.text}, {"id", t.id}, {"begin", index.char_of_byte(t.begin)},
                     {"end", index.char_of_byte(t.end)}, {"begin_byte", t.begin}, {"end_byte", t.end}});
    std::cout << nlohmann::json{{"tokens", out}}.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  for (const auto& t : tokens)
    std::cout << t.id << "\t" << t.text << "\t" << index.char_of_byte(t.begin) << "\t" << index.char_of_byte(t.end) << "\n";
  return 0;
}

}  // namespace longqa::cli
