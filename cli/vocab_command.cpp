// longqa vocab subset: the part of a vocabulary that a model trained from scratch on a corpus
// can use (smaller embeddings; the rest would stay untrained).
#include <filesystem>
#include <fstream>
#include <iostream>

#include "args.h"
#include "commands.h"
#include "longqa/tokenizer.h"

namespace fs = std::filesystem;

namespace longqa::cli {

int vocab_subset_command(const Argv& argv) {
  Args args("vocab subset",
            "Writes the part of a WordPiece vocabulary that a model trained from scratch on the corpus can use: the "
            "special tokens, every piece the corpus tokenizes into and the one-character pieces of its characters, "
            "in the original order (tokenizer_config.json is copied along). Give it to `longqa model init`.");
  args.option("vocab", "vocab.txt, or a directory holding one")
      .option("corpus", "comma-separated files or folders of text (any corpus format)")
      .option("out", "directory to write vocab.txt into");
  if (!args.parse(argv)) return 0;
  fs::path vocab = args.get("vocab");
  if (fs::is_directory(vocab)) vocab /= "vocab.txt";
  const Tokenizer tokenizer = Tokenizer::from_vocab_file(vocab.string());
  const auto texts = read_corpus_texts(args.get("corpus"));
  const auto subset = vocabulary_subset(tokenizer, texts);
  const fs::path out = args.get("out");
  fs::create_directories(out);
  {
    std::ofstream file(out / "vocab.txt.tmp");
    for (const auto& entry : subset) file << entry << "\n";
    if (!file.flush()) throw std::runtime_error((out / "vocab.txt").string() + ": cannot write");
  }
  fs::rename(out / "vocab.txt.tmp", out / "vocab.txt");
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"})
    if (fs::exists(vocab.parent_path() / name))
      fs::copy_file(vocab.parent_path() / name, out / name, fs::copy_options::overwrite_existing);
  std::cout << "wrote " << (out / "vocab.txt").string() << ": " << subset.size() << " of " << tokenizer.vocab_size()
            << " entries\n";
  return 0;
}

}  // namespace longqa::cli
