#include "shared_options.h"

#include <algorithm>
#include <sstream>

#include "longqa/common/utf8.h"
#include "longqa/threads.h"

namespace longqa::cli {

void add_reader_options(Args& args, bool with_no_answer) {
  args.option("n-best", "answers kept per question", "5")
      .option("max-answer-tokens", "longest answer, in tokens", "30")
      .option("window", "tokens per window (0 = the model's maximum)", "0")
      .option("overlap", "document tokens shared by consecutive windows (-1 = a quarter)", "-1")
      .option("calibration",
              "how scores of different windows and documents are compared: raw (start + end logits), null "
              "(minus the window's [CLS] score) or softmax (log-probabilities within each window)",
              "raw")
      .option("batch-tokens",
              "tokens per forward pass, padding included: windows of similar length are read together up to "
              "this many (a longer window is read alone)",
              "16384")
      .option("dtype",
              "what the reader computes in: float32; bfloat16 (faster on CPUs with AVX512_BF16 and on GPUs); or "
              "int8 (CPU only: linear layers in int8, fastest with VNNI). Accuracy of each in the model card",
              "float32")
      .option("passage-weight",
              "weight of the passage prior: times the retriever encoder's similarity of question and passage, added "
              "to the score of spans starting in that passage (0 = off; needs an index or --encoder)",
              [] {
                std::ostringstream text;
                text << ReaderOptions{}.passage_weight;
                return text.str();
              }())
      .option("threads", "CPU threads (0 = all cores)", "0");
  if (with_no_answer) args.flag("no-answer", "allow an empty answer when the model finds none");
}

ReaderOptions reader_options(const Args& args) {
  ReaderOptions options;
  options.n_best = args.get_int("n-best");
  options.max_answer_tokens = args.get_int("max-answer-tokens");
  options.window_tokens = args.get_int("window");
  options.overlap_tokens = args.get_int("overlap");
  options.batch_tokens = args.get_int("batch-tokens");
  options.allow_no_answer = args.is_set("no-answer");
  options.score_calibration = args.get("calibration");
  check_score_calibration(options.score_calibration);
  options.dtype = args.get("dtype");
  check_reader_dtype(options.dtype);
  options.passage_weight = args.get_double("passage-weight");
  set_compute_threads(static_cast<int>(args.get_int("threads")));
  return options;
}

void add_retriever_options(Args& args, const std::string& passages_default) {
  args.option("mode", "fused (dense + BM25, reciprocal rank fusion), dense or bm25", "fused")
      .option("passages", "best passages kept per document", passages_default)
      .option("candidates", "passages each method ranks before fusion", "100")
      .option("rrf-k", "reciprocal rank fusion constant", "60")
      .option("dense-weight", "weight of the dense ranking in fusion", "1")
      .option("bm25-weight", "weight of the BM25 ranking in fusion", "1")
      .option("encoder", "the index's text encoder directory (default: the one its manifest records)", "");
}

void add_prior_passage_options(Args& args, const std::string& when) {
  const retriever::IndexOptions defaults;
  args.option("passage-tokens", when + "passage length in encoder tokens, for the passage prior",
              std::to_string(defaults.passage_tokens))
      .option("passage-overlap", when + "tokens shared by consecutive passages", std::to_string(defaults.passage_overlap));
}

retriever::IndexOptions prior_passage_options(const Args& args) {
  retriever::IndexOptions options;
  options.passage_tokens = args.get_int("passage-tokens");
  options.passage_overlap = args.get_int("passage-overlap");
  return options;
}

retriever::RetrieverOptions retriever_options(const Args& args) {
  retriever::RetrieverOptions options;
  options.mode = retriever::parse_search_mode(args.get("mode"));
  options.passages_per_document = args.get_int("passages");
  options.candidates = args.get_int("candidates");
  options.rrf_k = args.get_double("rrf-k");
  options.dense_weight = args.get_double("dense-weight");
  options.bm25_weight = args.get_double("bm25-weight");
  return options;
}

std::string take_trailing_words(const Argv& argv, Argv& options, const std::vector<std::string>& flags) {
  std::string words;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.rfind("--", 0) == 0 || a == "-h") {
      options.push_back(a);
      const bool takes_value = a.find('=') == std::string::npos && std::find(flags.begin(), flags.end(), a) == flags.end();
      if (takes_value && i + 1 < argv.size()) options.push_back(argv[++i]);
    } else {
      words += (words.empty() ? "" : " ") + a;
    }
  }
  return words;
}

std::string one_line(const std::string& text, size_t max_bytes) {
  std::string line = text;
  for (char& c : line)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (line.size() <= max_bytes) return line;
  return truncate_utf8(line, max_bytes) + "…";
}

}  // namespace longqa::cli
