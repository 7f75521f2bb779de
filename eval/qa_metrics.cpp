// The official SQuAD 1.1 / KorQuAD 1.0 / KorQuAD 2.0 metrics (see qa_metrics.h).
// Each step mirrors a line of the Python scripts, in the same order, and the
// arithmetic is done in the same order so that scores are bit-identical.
#include "longqa/qa_metrics.h"

#include <algorithm>
#include <map>

#include "html_text.h"
#include "python_text.h"

namespace longqa::eval {
namespace {

using detail::py_isword;
using detail::py_lower;
using detail::py_split;

bool is_ascii_punctuation(char32_t c) {  // string.punctuation
  return (c >= U'!' && c <= U'/') || (c >= U':' && c <= U'@') || (c >= U'[' && c <= U'`') ||
         (c >= U'{' && c <= U'~');
}

std::u32string remove_punc(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (const char32_t c : text)
    if (!is_ascii_punctuation(c)) out += c;
  return out;
}

// ' '.join(text.split())
std::u32string white_space_fix(std::u32string_view text) {
  std::u32string out;
  for (const std::u32string_view token : py_split(text)) {
    if (!out.empty()) out += U' ';
    out += token;
  }
  return out;
}

// re.sub(r'\b(a|an|the)\b', ' ', text): a match is always a whole run of \w
// characters (Unicode \w: Python 3 str patterns), so whole runs are compared.
std::u32string remove_articles(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!py_isword(text[i])) {
      out += text[i++];
      continue;
    }
    const size_t start = i;
    while (i < text.size() && py_isword(text[i])) ++i;
    const std::u32string_view word = text.substr(start, i - start);
    if (word == U"a" || word == U"an" || word == U"the") {
      out += U' ';
    } else {
      out += word;
    }
  }
  return out;
}

// KorQuAD's remove_(): each of these characters becomes a space.
std::u32string remove_symbols(std::u32string_view text) {
  static constexpr std::u32string_view symbols = U"'\"《》<>〈〉()‘’";
  std::u32string out(text);
  for (char32_t& c : out)
    if (symbols.find(c) != std::u32string_view::npos) c = U' ';
  return out;
}

// KorQuAD 1.0/2.0 F1: the normalized tokens split into code points.
std::u32string korquad_chars(std::u32string_view normalized) {
  std::u32string chars;
  for (const std::u32string_view token : py_split(normalized)) chars += token;
  return chars;
}

// The scripts' f1 from the overlap count; 0 when nothing overlaps.
double f1_from_counts(size_t num_same, size_t prediction_size, size_t gold_size) {
  if (num_same == 0) return 0.0;
  const double precision = 1.0 * static_cast<double>(num_same) / static_cast<double>(prediction_size);
  const double recall = 1.0 * static_cast<double>(num_same) / static_cast<double>(gold_size);
  return (2 * precision * recall) / (precision + recall);
}

// sum((Counter(a) & Counter(b)).values())
template <typename Item>
size_t common_count(const std::vector<Item>& a, const std::vector<Item>& b) {
  std::map<Item, size_t> counts;
  for (const Item& item : a) ++counts[item];
  size_t common = 0;
  for (const Item& item : b) {
    const auto it = counts.find(item);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++common;
    }
  }
  return common;
}

// f1_score() on already normalized texts.
double f1_normalized(MetricKind kind, std::u32string_view p, std::u32string_view g) {
  if (kind == MetricKind::squad_v1) {
    std::vector<std::u32string> p_tokens, g_tokens;
    for (const auto token : py_split(p)) p_tokens.emplace_back(token);
    for (const auto token : py_split(g)) g_tokens.emplace_back(token);
    return f1_from_counts(common_count(p_tokens, g_tokens), p_tokens.size(), g_tokens.size());
  }
  const std::u32string p_chars = korquad_chars(p), g_chars = korquad_chars(g);
  const std::vector<char32_t> p_vec(p_chars.begin(), p_chars.end()), g_vec(g_chars.begin(), g_chars.end());
  return f1_from_counts(common_count(p_vec, g_vec), p_vec.size(), g_vec.size());
}

std::vector<std::u32string> decode_golds(const std::vector<std::string>& golds) {
  if (golds.empty())
    throw std::invalid_argument("no gold answers to score against (the official scripts fail here too)");
  std::vector<std::u32string> out;
  out.reserve(golds.size());
  for (const std::string& gold : golds) out.push_back(detail::decode_utf8(gold, "gold answer"));
  return out;
}

}  // namespace

MetricKind parse_metric_kind(std::string_view name) {
  if (name == "squad_v1") return MetricKind::squad_v1;
  if (name == "korquad_v1") return MetricKind::korquad_v1;
  if (name == "korquad_v2") return MetricKind::korquad_v2;
  throw std::invalid_argument("unknown metric '" + std::string(name) +
                              "' (expected squad_v1, korquad_v1 or korquad_v2)");
}

const char* to_string(MetricKind kind) {
  switch (kind) {
    case MetricKind::squad_v1: return "squad_v1";
    case MetricKind::korquad_v1: return "korquad_v1";
    case MetricKind::korquad_v2: return "korquad_v2";
  }
  return "?";
}

MetricKind default_metric(const QaDataset& dataset) {
  if (dataset.format == DatasetFormat::korquad2) return MetricKind::korquad_v2;
  // KorQuAD 1.0 files use SQuAD's layout; their version says which they are ("KorQuAD_v1.0_dev").
  return dataset.version.rfind("KorQuAD", 0) == 0 ? MetricKind::korquad_v1 : MetricKind::squad_v1;
}

std::u32string normalize_code_points(MetricKind kind, std::u32string_view text) {
  switch (kind) {
    case MetricKind::squad_v1:
      return white_space_fix(remove_articles(remove_punc(py_lower(text))));
    case MetricKind::korquad_v1:
      return white_space_fix(remove_punc(py_lower(remove_symbols(text))));
    case MetricKind::korquad_v2: {
      // ' '.join(text.split()) and then deleting '\n', '\t' and ' ' leaves the tokens alone.
      const std::u32string cleaned = remove_punc(py_lower(remove_symbols(detail::html_get_text(text))));
      std::u32string out;
      for (const std::u32string_view token : py_split(cleaned)) out += token;
      return out;
    }
  }
  return {};
}

std::string normalize(MetricKind kind, std::string_view text) {
  return detail::encode_utf8(normalize_code_points(kind, detail::decode_utf8(text, "text to normalize")));
}

std::string html_get_text(std::string_view markup) {
  return detail::encode_utf8(detail::html_get_text(detail::decode_utf8(markup, "HTML markup")));
}

bool exact_match(MetricKind kind, std::string_view prediction, const std::vector<std::string>& golds) {
  const std::vector<std::u32string> gold_texts = decode_golds(golds);
  const std::u32string p = normalize_code_points(kind, detail::decode_utf8(prediction, "prediction"));
  return std::any_of(gold_texts.begin(), gold_texts.end(),
                     [&](const std::u32string& gold) { return normalize_code_points(kind, gold) == p; });
}

double f1(MetricKind kind, std::string_view prediction, const std::vector<std::string>& golds) {
  const std::vector<std::u32string> gold_texts = decode_golds(golds);
  const std::u32string p = normalize_code_points(kind, detail::decode_utf8(prediction, "prediction"));
  double best = 0.0;
  for (const std::u32string& gold : gold_texts)
    best = std::max(best, f1_normalized(kind, p, normalize_code_points(kind, gold)));
  return best;
}

std::vector<QuestionScore> score_questions(MetricKind kind, const QaDataset& dataset,
                                            const PredictionMap& predictions) {
  std::vector<QuestionScore> scores;
  scores.reserve(dataset.questions.size());
  std::vector<std::string> golds;
  for (const QaQuestion& question : dataset.questions) {
    QuestionScore score;
    const auto it = predictions.find(question.id);
    if (it != predictions.end()) {
      golds.clear();
      for (const QaAnswer& answer : question.answers) golds.push_back(answer.text);
      if (golds.empty())
        throw std::invalid_argument("question " + question.id +
                                    " has no gold answers (the official scripts fail here too)");
      score.answered = true;
      score.exact_match = exact_match(kind, it->second, golds);
      score.f1 = f1(kind, it->second, golds);
    }
    scores.push_back(score);
  }
  return scores;
}

Evaluation evaluate(MetricKind kind, const QaDataset& dataset, const PredictionMap& predictions) {
  if (dataset.questions.empty()) throw std::invalid_argument("the dataset has no questions");
  Evaluation result;
  size_t exact = 0;
  double f1_sum = 0.0;
  for (const QuestionScore& score : score_questions(kind, dataset, predictions)) {
    ++result.total;
    if (!score.answered) continue;
    ++result.answered;
    exact += score.exact_match ? 1 : 0;
    f1_sum += score.f1;
  }
  result.exact_match = 100.0 * static_cast<double>(exact) / static_cast<double>(result.total);
  result.f1 = 100.0 * f1_sum / static_cast<double>(result.total);
  return result;
}

}  // namespace longqa::eval
