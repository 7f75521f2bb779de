// pretrain, train-retriever, train-reader: read the data, then hand it to the library's trainers.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "longqa/corpus.h"
#include "longqa/qa_dataset.h"
#include "longqa/qa_metrics.h"
#include "longqa/reader.h"
#include "longqa/threads.h"
#include "longqa/training/encoder_trainers.h"
#include "longqa/training/synthetic_qa.h"

namespace fs = std::filesystem;

namespace longqa::cli {
namespace {

void add_trainer_options(Args& args, const std::string& tokens_default) {
  args.option("out", "output directory: checkpoints and the final model")
      .option("epochs", "passes over the training data", "2")
      .option("max-steps", "optimizer steps (0 = from --epochs)", "0")
      .option("batch-size", "sequences per micro-batch", "8")
      .option("grad-accum", "micro-batches per optimizer step", "1")
      .option("lr", "peak learning rate", "5e-5")
      .option("weight-decay", "AdamW weight decay", "0.01")
      .option("warmup", "share of steps with linear warmup", "0.1")
      .option("max-grad-norm", "gradient clipping (0 = off)", "1.0")
      .option("tokens", "tokens per sequence", tokens_default)
      .option("seed", "random seed", "42")
      .option("save-every", "checkpoint every N steps (0 = only at the end)", "500")
      .option("eval-every", "evaluate every N steps (0 = only at the end)", "0")
      .option("log-every", "progress line every N steps", "10")
      .option("stop-after", "stop (with a checkpoint) after this step, to continue later with --resume", "0")
      .option("device", "cpu or cuda[:N]", "cpu")
      .option("threads", "CPU threads (0 = all cores)", "0")
      .flag("no-bf16", "on CUDA, train in fp32 instead of bf16 autocast")
      .flag("resume", "continue from the newest checkpoint in --out");
}

TrainerOptions trainer_options(const Args& args, const std::string& model_dir) {
  TrainerOptions o;
  o.out_dir = args.get("out");
  o.tokenizer_dir = model_dir;
  o.epochs = args.get_int("epochs");
  o.max_steps = args.get_int("max-steps");
  o.batch_size = args.get_int("batch-size");
  o.grad_accum = args.get_int("grad-accum");
  o.learning_rate = args.get_double("lr");
  o.weight_decay = args.get_double("weight-decay");
  o.warmup_ratio = args.get_double("warmup");
  o.max_grad_norm = args.get_double("max-grad-norm");
  o.window_tokens = args.get_int("tokens");
  o.seed = static_cast<uint64_t>(args.get_int("seed"));
  o.save_every = args.get_int("save-every");
  o.eval_every = args.get_int("eval-every");
  o.log_every = std::max<int64_t>(1, args.get_int("log-every"));
  o.stop_after = args.get_int("stop-after");
  o.device = args.get("device");
  o.bf16 = !args.is_set("no-bf16");
  o.resume = args.is_set("resume");
  set_compute_threads(static_cast<int>(args.get_int("threads")));
  return o;
}


std::vector<std::string> split_list(const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= value.size()) {
    const size_t comma = value.find(',', start);
    const std::string item = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Labelled examples: each question with its context and its first answer that matches it.
std::vector<QaExample> qa_examples(const eval::QaDataset& data) {
  std::vector<QaExample> out;
  int64_t unusable = 0;
  for (const auto& q : data.questions) {
    QaExample e{q.id, q.question, data.documents[q.document_index].context, {}};
    for (const auto& a : q.answers)
      if (a.matches_context && a.byte_end > a.byte_start) {
        e.answers.emplace_back(static_cast<int64_t>(a.byte_start), static_cast<int64_t>(a.byte_end));
        break;
      }
    if (e.answers.empty() && !q.is_impossible) {
      ++unusable;
      continue;
    }
    out.push_back(std::move(e));
  }
  if (unusable > 0) std::cerr << "note: " << unusable << " questions without a usable answer skipped\n";
  return out;
}

}  // namespace

std::vector<std::string> read_corpus_texts(const std::string& comma_separated_paths) {
  std::vector<std::string> texts;
  int64_t errors = 0;
  retriever::ingest(
      split_list(comma_separated_paths), {}, [&](retriever::Document&& d) { texts.push_back(std::move(d.text)); },
      [&](const retriever::IngestError& e) {
        if (++errors <= 20) std::cerr << "skipped " << e.source << ": " << e.message << "\n";
      });
  if (errors > 20) std::cerr << "(" << errors << " bad records in all)\n";
  std::cerr << "read " << texts.size() << " texts\n";
  return texts;
}

int train_reader_command(const Argv& argv) {
  Args args("train-reader",
            "Trains or fine-tunes a reader (littlebird or bert) on SQuAD-format JSON (SQuAD 1.1/2.0, KorQuAD 1.0; "
            "KorQuAD 2.x read too), long contexts in overlapping windows, optionally with synthetic cloze questions "
            "made from raw text; evaluates EM/F1 on a dev file exactly as the official scripts do.");
  args.option("model", "model directory to start from (model init / model convert / a QA checkpoint)")
      .option("train", "comma-separated SQuAD-format files", "")
      .option("train-articles", "use only articles BEGIN:END of the training files (e.g. 0:16)", "")
      .option("synthetic", "comma-separated raw-text files or folders for cloze questions", "")
      .option("synthetic-per-text", "cloze questions made per text", "3")
      .option("dev", "SQuAD-format file to evaluate on", "")
      .option("dev-articles", "use only articles BEGIN:END of the dev file (e.g. 16:)", "")
      .option("dev-limit", "evaluate on at most this many dev questions (0 = all)", "0")
      .option("metric", "squad_v1, korquad_v1 or korquad_v2 (default: korquad_v2 for KorQuAD 2.x, korquad_v1 when the version says KorQuAD, else squad_v1)", "")
      .option("overlap", "document tokens shared by consecutive windows", "128")
      .option("question-tokens", "longest question, in tokens", "64")
      .option("negative-windows", "share of answerless windows of answerable questions kept", "1.0")
      .option("teacher", "a trained QA model to distil from (same tokenizer), e.g. a BERT reader for a LittleBird student", "")
      .option("teacher-weight", "weight of the KL divergence from the teacher's start/end distributions", "1.0")
      .option("teacher-hidden-weight", "weight of the layer-by-layer hidden-state error (teacher of the same width)", "0")
      .option("teacher-temperature", "softmax temperature of the distillation", "2.0");
  add_trainer_options(args, "384");
  if (!args.parse(argv)) return 0;
  const std::string model_dir = args.get("model");
  auto options = trainer_options(args, model_dir);
  options.overlap_tokens = args.get_int("overlap");
  options.max_question_tokens = args.get_int("question-tokens");
  options.negative_window_keep = args.get_double("negative-windows");

  std::vector<QaExample> examples;
  for (const auto& path : split_list(args.get("train"))) {
    auto data = eval::select_articles(eval::read_qa_dataset(path), eval::parse_article_range(args.get("train-articles")));
    for (const auto& w : data.warnings) std::cerr << "warning: " << w << "\n";
    auto part = qa_examples(data);
    std::cerr << path << ": " << part.size() << " questions\n";
    examples.insert(examples.end(), part.begin(), part.end());
  }
  if (!args.get("synthetic").empty()) {
    ClozeOptions cloze;
    cloze.per_text = args.get_int("synthetic-per-text");
    cloze.seed = options.seed;
    auto synthetic = make_cloze_examples(read_corpus_texts(args.get("synthetic")), cloze);
    std::cerr << synthetic.size() << " synthetic cloze questions\n";
    examples.insert(examples.end(), synthetic.begin(), synthetic.end());
  }
  if (examples.empty()) throw std::invalid_argument("no training data: give --train and/or --synthetic");

  auto tokenizer = std::make_shared<Tokenizer>(Tokenizer::from_directory(model_dir));
  ReaderTrainer trainer(QaModel::load_encoder(model_dir), tokenizer, options);
  if (!args.get("teacher").empty())
    trainer.set_teacher(QaModel::load(args.get("teacher")),
                        {args.get_double("teacher-weight"), args.get_double("teacher-hidden-weight"),
                         args.get_double("teacher-temperature")});
  if (!args.get("dev").empty()) {
    auto dev = eval::select_articles(eval::read_qa_dataset(args.get("dev")), eval::parse_article_range(args.get("dev-articles")));
    const int64_t limit = args.get_int("dev-limit");
    if (limit > 0 && static_cast<int64_t>(dev.questions.size()) > limit) dev.questions.resize(limit);
    const auto kind = args.get("metric").empty() ? eval::default_metric(dev) : eval::parse_metric_kind(args.get("metric"));
    ReaderOptions reader_options;
    reader_options.window_tokens = options.window_tokens;
    reader_options.overlap_tokens = options.overlap_tokens;
    trainer.set_evaluator([dev = std::move(dev), kind, reader_options](const QaModel& model, const Tokenizer& tok) {
      // The live model, borrowed for the evaluation.
      Reader reader(std::shared_ptr<const QaModel>(&model, [](const QaModel*) {}),
                    std::shared_ptr<const Tokenizer>(&tok, [](const Tokenizer*) {}), reader_options);
      eval::PredictionMap predictions;
      for (const auto& q : dev.questions) {
        const auto answers = reader.read(q.question, dev.documents[q.document_index].context);
        predictions[q.id] = answers.empty() ? "" : answers.front().text;
      }
      const auto result = eval::evaluate(kind, dev, predictions);
      return std::map<std::string, double>{{"exact_match", result.exact_match}, {"f1", result.f1},
                                           {"questions", static_cast<double>(result.total)}};
    });
  }
  std::cerr << examples.size() << " training questions\n";
  const auto result = trainer.train(examples);
  std::cout << "trained " << result.steps << " steps, last loss " << result.last_loss;
  for (const auto& [k, v] : result.metrics) std::cout << ", " << k << " " << v;
  std::cout << "; model in " << args.get("out") << "\n";
  return 0;
}

int pretrain_command(const Argv& argv) {
  Args args("pretrain", "Masked-language-model pretraining of an encoder on raw text (JSONL, text/markdown files "
                        "or folders, SQuAD/KorQuAD JSON contexts).");
  args.option("model", "model directory to start from (e.g. made by `model init` or `model convert`)")
      .option("corpus", "comma-separated files or folders of text");
  add_trainer_options(args, "256");
  if (!args.parse(argv)) return 0;
  const std::string model_dir = args.get("model");
  auto tokenizer = std::make_shared<Tokenizer>(Tokenizer::from_directory(model_dir));
  MlmPretrainer trainer(QaModel::load_encoder(model_dir), tokenizer, trainer_options(args, model_dir), model_dir);
  const auto result = trainer.train(read_corpus_texts(args.get("corpus")));
  std::cout << "trained " << result.steps << " steps, last loss " << result.last_loss << ", model in " << args.get("out")
            << "\n";
  return 0;
}

int distill_command(const Argv& argv) {
  Args args("distill",
            "Layer-by-layer hidden-state distillation on raw text: the student (e.g. a LittleBird reader made by "
            "`model convert --from-bert`, which lost its absolute positions) learns to reproduce the hidden states "
            "of the teacher (e.g. the BERT it came from). Student and teacher share the vocabulary and width.");
  args.option("model", "student model directory (its tokenizer is used)")
      .option("teacher", "teacher model directory (bert, electra or littlebird)")
      .option("corpus", "comma-separated files or folders of text");
  add_trainer_options(args, "256");
  if (!args.parse(argv)) return 0;
  const std::string model_dir = args.get("model");
  auto tokenizer = std::make_shared<Tokenizer>(Tokenizer::from_directory(model_dir));
  DistillTrainer trainer(QaModel::load_encoder(model_dir), QaModel::load_encoder(args.get("teacher")), tokenizer,
                         trainer_options(args, model_dir));
  const auto texts = read_corpus_texts(args.get("corpus"));
  std::cerr << "distillation loss before training: " << trainer.evaluate(texts) << "\n";
  const auto result = trainer.train(texts);
  std::cout << "trained " << result.steps << " steps, last loss " << result.last_loss << ", model in " << args.get("out")
            << "\n";
  return 0;
}

int train_retriever_command(const Argv& argv) {
  Args args("train-retriever",
            "Trains a dense bi-encoder (mean pooling, normalised, in-batch negatives) on (question, passage) pairs "
            "from a JSONL file ({\"question\", \"passage\"} per line) and/or Inverse-Cloze-Task pairs made from raw text.");
  args.option("model", "encoder model directory to start from")
      .option("pairs", "JSONL file of {\"question\": ..., \"passage\": ...}", "")
      .option("ict-corpus", "comma-separated text files or folders for Inverse-Cloze-Task pairs", "")
      .option("temperature", "softmax temperature of the similarity scores", "0.05")
      .option("question-tokens", "longest question, in tokens", "64");
  add_trainer_options(args, "256");
  if (!args.parse(argv)) return 0;
  std::vector<std::pair<std::string, std::string>> pairs;
  if (!args.get("pairs").empty()) {
    std::ifstream in(args.get("pairs"));
    if (!in) throw std::runtime_error(args.get("pairs") + ": cannot open");
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      try {
        const auto j = nlohmann::json::parse(line);
        pairs.emplace_back(j.at("question").get<std::string>(), j.at("passage").get<std::string>());
      } catch (const std::exception& e) {
        throw std::invalid_argument(args.get("pairs") + ":" + std::to_string(number) + ": " + e.what());
      }
    }
  }
  if (!args.get("ict-corpus").empty()) {
    auto ict = make_ict_pairs(read_corpus_texts(args.get("ict-corpus")), static_cast<uint64_t>(args.get_int("seed")));
    pairs.insert(pairs.end(), ict.begin(), ict.end());
  }
  if (pairs.empty()) throw std::invalid_argument("give --pairs and/or --ict-corpus");
  const std::string model_dir = args.get("model");
  auto tokenizer = std::make_shared<Tokenizer>(Tokenizer::from_directory(model_dir));
  RetrieverTrainer trainer(QaModel::load_encoder(model_dir), tokenizer, trainer_options(args, model_dir),
                           args.get_double("temperature"), args.get_int("question-tokens"));
  std::cerr << pairs.size() << " training pairs\n";
  const auto result = trainer.train(pairs);
  std::cout << "trained " << result.steps << " steps, last loss " << result.last_loss << ", encoder in "
            << args.get("out") << "\n";
  return 0;
}

}  // namespace longqa::cli
