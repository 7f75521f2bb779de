// Metrics and dataset I/O (longqa_eval). The expected values below were computed once
// by running the official scripts' own functions (evaluate-v1.1.py, evaluate-v1.0.py,
// evaluate-2.0.py with Debian's python3-bs4) on these inputs and pasted here as
// literals. The full comparison with the scripts is tests/eval/compare_official.py.
#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <vector>

#include "longqa/qa_dataset.h"
#include "longqa/qa_metrics.h"
#include "test_util.h"

using namespace longqa::eval;
using longqa::test::error_of;

namespace {

struct normalize_case {
  const char* input;
  const char* squad_v1;
  const char* korquad_v1;
  const char* korquad_v2;
};

// From each script's normalize_answer().
const normalize_case normalize_cases[] = {
    {"The Quick, Brown Fox!", "quick brown fox", "the quick brown fox", "thequickbrownfox"},
    // NBSP, ideographic space, \x1c (bidi B), NEL, LINE SEPARATOR, tab, newline.
    {"  a\u00a0b\u3000c\x1c""d\u0085e\u2028f\x09""\x0a""", "b c d e f", "a b c d e f", "abcdef"},
    // \b is Unicode-aware: "_" is a word character, U+0301 is not.
    {"an apple_a a_ the\u0301 the-end (a) A.", "applea \u0301 theend", "an applea a the\u0301 theend a a",
     "anappleaathe\u0301theendaa"},
    // İ lowers to i + U+0307; Σ takes the final form only at the end of a word.
    {"İstanbul ΣΑΣ ΟΔΟΣ. Σ", "i\u0307stanbul σας οδος σ", "i\u0307stanbul σας οδος σ", "i\u0307stanbulσαςοδοςσ"},
    // The apostrophe is case-ignorable for SQuAD's lower(); KorQuAD turns it into a space first.
    {"ΑΣ'Β", "ασβ", "ας β", "αςβ"},
    {"Straße ẞ ǅ", "straße ß ǆ", "straße ß ǆ", "straßeßǆ"},
    {"《서울》의 〈대학〉(大學) ‘연세’ \"x\" 'y' “z”", "《서울》의 〈대학〉大學 ‘연세’ x y “z”",
     "서울 의 대학 大學 연세 x y “z”", "서울의대학大學연세xy“z”"},
    {"<p>Seoul &amp; Busan</p>&lt;b&gt;", "pseoul amp busanpltbgt", "p seoul amp busan p ltbgt", "seoulbusanb"},
    {"<table><tr><th>연도</th><td>1,000</td></tr></table><ul><li>가</li><li>나</li></ul>",
     "tabletrth연도thtd1000tdtrtableulli가lili나liul",
     "table tr th 연도 th td 1000 td tr table ul li 가 li li 나 li ul", "연도1000가나"},
    // Unknown "&foo;" keeps "&foo" (bs4 drops the ';'); &#150; is windows-1252's en dash;
    // "&AMP " decodes without ';', a trailing "&amp" does not.
    {"&#39;quoted&#39; &nbsp;x &foo; &#150; &#x41; &AMP &amp", "39quoted39 nbspx foo 150 x41 amp amp",
     "39quoted39 nbspx foo 150 x41 amp amp", "quotedxfoo–aamp"},
    {"<script>var a=1;</script>본문<!-- 주석 --><style>p{}</style><rt>x</rt>",
     "scriptvar a1script본문 주석 stylepstylertxrt", "script var a1 script 본문 주석 style p style rt x rt", "본문"},
    {"a<![CDATA[]]>b<br/>c<br></br>d", "acdatabbrcbrbrd", "a cdata b br c br br d", "abcd"},
    // html.parser drops the '&' of an incomplete reference that ends the input.
    {"x &a", "x", "x a", "xa"},
    {"", "", "", ""},
};

struct score_case {
  MetricKind kind;
  const char* prediction;
  std::vector<std::string> golds;
  bool exact_match;
  double f1;
};

// From metric_max_over_ground_truths(exact_match_score / f1_score, ...).
const score_case score_cases[] = {
    {MetricKind::squad_v1, "the Eiffel Tower", {"Eiffel tower!", "tower"}, true, 1.0},
    {MetricKind::squad_v1, "Eiffel Tower in Paris", {"the Eiffel Tower"}, false, 0.6666666666666666},
    {MetricKind::squad_v1, "a a a", {"a"}, true, 0.0},  // both normalize to "": EM 1, F1 0
    {MetricKind::squad_v1, "Denver Broncos Denver", {"Denver Broncos", "Broncos"}, false, 0.8},
    {MetricKind::squad_v1, "", {"Denver"}, false, 0.0},
    {MetricKind::squad_v1, "the", {"a"}, true, 0.0},
    {MetricKind::korquad_v1, "서울특별시에서", {"서울특별시"}, false, 0.8333333333333333},
    {MetricKind::korquad_v1, "1,000대", {"1000대", "천 대"}, true, 1.0},
    {MetricKind::korquad_v1, "《토지》", {"토지"}, true, 1.0},
    {MetricKind::korquad_v1, "미국 공군의 T-38", {"T-38 탤론"}, false, 0.4615384615384615},
    {MetricKind::korquad_v1, "", {""}, true, 0.0},
    {MetricKind::korquad_v2, "<td>360대</td>", {"360대"}, true, 1.0},
    {MetricKind::korquad_v2, "360 대", {"360대"}, true, 1.0},
    {MetricKind::korquad_v2, "<p>미국 <a>공군</a>의</p>", {"미국 공군"}, false, 0.888888888888889},
    {MetricKind::korquad_v2, "&lt;T-X&gt; 프로그램", {"T-X 프로그램"}, true, 1.0},
    {MetricKind::korquad_v2, "ΣΑΣ", {"σας"}, true, 1.0},
};

const char* const squad_json = R"({"version": "1.1", "data": [{"title": "서울", "paragraphs": [
  {"context": "서울특별시는 대한민국의 수도이다. The capital is Seoul.", "qas": [
    {"id": "q1", "question": "수도?", "answers": [{"text": "서울특별시", "answer_start": 0},
                                                  {"text": "Seoul", "answer_start": 36}]},
    {"id": "q2", "question": "what?", "answers": [{"text": "The capital", "answer_start": 19}]},
    {"id": "q3", "question": "missing", "answers": [{"text": "대한민국", "answer_start": 7}]}]}]}]})";

const char* const korquad2_json = R"({"data": [{"title": "T", "url": "u",
  "context": "<p>미국 <b>공군</b>은 360대</p>", "raw_html": "<html></html>", "qas": [
    {"id": "k1", "question": "?", "answer": {"text": "360대", "answer_start": 17,
                                             "html_answer_start": 0, "html_answer_text": "360대"}},
    {"id": "k2", "question": "?", "answer": {"text": "<b>공군</b>", "answer_start": 6,
                                             "html_answer_start": 0, "html_answer_text": ""}}]}]})";

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

}  // namespace

TEST_CASE("normalize matches each official normalize_answer", "[eval]") {
  for (const normalize_case& c : normalize_cases) {
    INFO("input: " << c.input);
    CHECK(normalize(MetricKind::squad_v1, c.input) == c.squad_v1);
    CHECK(normalize(MetricKind::korquad_v1, c.input) == c.korquad_v1);
    CHECK(normalize(MetricKind::korquad_v2, c.input) == c.korquad_v2);
  }
}

TEST_CASE("exact match and F1 match the official scripts bit for bit", "[eval]") {
  for (const score_case& c : score_cases) {
    INFO(to_string(c.kind) << " prediction: " << c.prediction);
    CHECK(exact_match(c.kind, c.prediction, c.golds) == c.exact_match);
    CHECK(f1(c.kind, c.prediction, c.golds) == c.f1);
  }
}

TEST_CASE("html_get_text follows BeautifulSoup get_text with html.parser", "[eval]") {
  // Whitespace-only strings collapse to one space or newline (outside <pre>/<textarea>).
  CHECK(html_get_text("<p>  </p>\n<p>\t</p>") == " \n ");
  CHECK(html_get_text("a<pre>  </pre>b") == "a  b");
  // 200,000 slashes in a tag (BeautifulSoup: "x"): the matcher loops, it does not recurse per
  // character (a few thousand overflowed the stack: fuzz_html).
  CHECK(html_get_text("<a" + std::string(200000, '/') + ">x</a>") == "x");
  // Attribute values may hold '>'; an unclosed end tag stays text.
  CHECK(html_get_text("a<b c='>'>d") == "ad");
  CHECK(html_get_text("<a href=x>y</a") == "y</a");
  // An unclosed <style> swallows the rest; CDATA is kept.
  CHECK(html_get_text("a<style>b") == "a");
  CHECK(html_get_text("<![CDATA[a]>b]]>c") == "a]>bc");
  CHECK(html_get_text("&#0;&#x110000;&#99999999999999999999;") == std::string("\0\uFFFD\uFFFD", 7));
  CHECK(html_get_text("&NotEqualTilde;") == "\u2242\u0338");
}

TEST_CASE("markup html.parser rejects is an HtmlParseError, as in the official script", "[eval]") {
  CHECK_THROWS_AS(normalize(MetricKind::korquad_v2, "<![foo]>x"), HtmlParseError);
  CHECK_THROWS_AS(normalize(MetricKind::korquad_v2, "<![ x]>"), HtmlParseError);
  CHECK(normalize(MetricKind::korquad_v1, "<![foo]>x") == "foo x");  // no HTML stripping there
}

TEST_CASE("bad arguments are refused", "[eval]") {
  CHECK_THROWS_AS(exact_match(MetricKind::squad_v1, "x", {}), std::invalid_argument);
  CHECK_THROWS_AS(f1(MetricKind::squad_v1, "x", {}), std::invalid_argument);
  CHECK_THROWS_AS(normalize(MetricKind::squad_v1, "\xff"), std::invalid_argument);
  CHECK(parse_metric_kind("korquad_v2") == MetricKind::korquad_v2);
  CHECK_THROWS_WITH(parse_metric_kind("squad2"), Catch::Contains("squad2"));
}

TEST_CASE("SQuAD-layout datasets: offsets, warnings and evaluate()", "[eval]") {
  const QaDataset dataset = parse_qa_dataset(squad_json, "inline.json");
  CHECK(dataset.format == DatasetFormat::squad);
  CHECK(dataset.version == "1.1");
  CHECK(default_metric(dataset) == MetricKind::squad_v1);
  QaDataset korquad_file = dataset;
  korquad_file.version = "KorQuAD_v1.0_dev";
  CHECK(default_metric(korquad_file) == MetricKind::korquad_v1);
  REQUIRE(dataset.documents.size() == 1);
  CHECK(dataset.documents[0].id == "서울#p0");
  REQUIRE(dataset.questions.size() == 3);
  const QaAnswer& q1 = dataset.questions[0].answers[0];
  CHECK((q1.byte_start == 0 && q1.byte_end == 15 && q1.matches_context));
  const QaAnswer& q2 = dataset.questions[1].answers[0];
  CHECK((q2.byte_start == 49 && q2.byte_end == 60 && q2.matches_context));
  // "Seoul" is at 34, not 36: kept, reported, and its end lies past the context.
  const QaAnswer& seoul = dataset.questions[0].answers[1];
  CHECK((seoul.byte_start == 66 && seoul.byte_end == std::string::npos && !seoul.matches_context));
  REQUIRE(dataset.warnings.size() == 1);
  CHECK_THAT(dataset.warnings[0], Catch::Contains("inline.json: data[0].paragraphs[0].qas[0].answers[1]"));

  const PredictionMap predictions = {{"q1", "서울특별시는"}, {"q2", "capital is"}};
  const Evaluation squad = evaluate(MetricKind::squad_v1, dataset, predictions);
  CHECK(squad.exact_match == 0.0);
  CHECK(squad.f1 == 22.222222222222218);  // evaluate-v1.1.py's evaluate()
  CHECK((squad.total == 3 && squad.answered == 2));
  const Evaluation korquad = evaluate(MetricKind::korquad_v1, dataset, predictions);
  CHECK(korquad.f1 == 54.86443381180222);  // evaluate-v1.0.py's evaluate()
  const std::vector<QuestionScore> scores = score_questions(MetricKind::korquad_v1, dataset, predictions);
  CHECK((scores[0].answered && scores[1].answered && !scores[2].answered));
}

TEST_CASE("KorQuAD 2 datasets", "[eval]") {
  const QaDataset dataset = parse_qa_dataset(korquad2_json, "k2.json");
  CHECK(dataset.format == DatasetFormat::korquad2);
  CHECK(default_metric(dataset) == MetricKind::korquad_v2);
  REQUIRE(dataset.questions.size() == 2);
  const QaAnswer& answer = dataset.questions[0].answers[0];
  CHECK((answer.byte_start == 27 && answer.byte_end == 33 && answer.matches_context));
  CHECK(dataset.warnings.empty());
  const Evaluation result =
      evaluate(MetricKind::korquad_v2, dataset, {{"k1", "<td>360 대</td>"}, {"k2", "공군은"}});
  CHECK(result.exact_match == 50.0);  // evaluate-2.0.py's evaluate()
  CHECK(result.f1 == 90.0);
}

TEST_CASE("article ranges select the questions of those articles", "[eval]") {
  const std::string two_articles = R"({"version": "1.1", "data": [
    {"title": "A", "paragraphs": [{"context": "one two", "qas": [{"id": "a1", "question": "?", "answers": [{"text": "one", "answer_start": 0}]}]}]},
    {"title": "B", "paragraphs": [{"context": "three", "qas": [{"id": "b1", "question": "?", "answers": [{"text": "three", "answer_start": 0}]},
                                                          {"id": "b2", "question": "?", "answers": [{"text": "three", "answer_start": 0}]}]}]}]})";
  const QaDataset data = parse_qa_dataset(two_articles, "two.json");
  CHECK(select_articles(data, parse_article_range("")).questions.size() == 3);
  const QaDataset second = select_articles(data, parse_article_range("1:"));
  REQUIRE(second.questions.size() == 2);
  CHECK(second.questions[0].id == "b1");
  CHECK(second.documents.size() == 2);  // documents stay, so document_index stays valid
  CHECK(data.documents[second.questions[1].document_index].title == "B");
  CHECK(select_articles(data, parse_article_range(":1")).questions.size() == 1);
  for (const char* bad : {"1", "a:b", "2:1", "1:1", "-1:"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_article_range(bad), std::invalid_argument);
  }
}

TEST_CASE("malformed datasets name the file and the JSON path", "[eval]") {
  // A number past double (found by fuzz_qa_dataset): invalid JSON, not an escaped exception;
  // in corpus mode a skipped file, as documented, not a throw.
  const std::string overflow = R"({"data": [{"paragraphs": [{"context": "c", "qas": []}], "n": 666663333333e33000}]})";
  CHECK_THAT(error_of([&] { parse_qa_dataset(overflow, "o.json"); }),
             Catch::StartsWith("o.json: invalid JSON") && Catch::Contains("number overflow"));
  QaReadOptions corpus;
  corpus.mode = QaReadMode::corpus;
  const QaDataset skipped = parse_qa_dataset(overflow, "o.json", corpus);
  REQUIRE(skipped.skipped.size() == 1);
  CHECK_THAT(skipped.skipped[0].message, Catch::Contains("invalid JSON"));
  CHECK_THAT(error_of([] { parse_qa_dataset(R"({"data": [{"paragraphs": [{"qas": []}]}]})", "a.json"); }),
             Catch::Equals("a.json: data[0].paragraphs[0]: missing field \"context\""));
  CHECK_THAT(error_of([] {
               parse_qa_dataset(R"({"data": [{"paragraphs": [{"context": "c", "qas": [
                   {"id": 7, "question": "?", "answers": []}]}]}]})", "b.json");
             }),
             Catch::Equals("b.json: data[0].paragraphs[0].qas[0].id: expected a string, got number"));
  CHECK_THAT(error_of([] {
               parse_qa_dataset(R"({"data": [{"title": "t", "context": "c", "qas": [
                   {"id": "1", "question": "?", "answer": {"text": "c", "answer_start": "0"}}]}]})", "c.json");
             }),
             Catch::Equals("c.json: data[0].qas[0].answer.answer_start: expected an integer, got string"));
  CHECK_THAT(error_of([] { parse_qa_dataset(R"({"data": [{"title": "t"}]})", "d.json"); }),
             Catch::Contains("d.json: data[0]: has neither"));
  CHECK_THAT(error_of([] { parse_qa_dataset("{\"data\": [", "e.json"); }), Catch::StartsWith("e.json: invalid JSON"));
  CHECK_THAT(error_of([] { parse_predictions(R"({"q1": null})", "p.json"); }),
             Catch::Equals("p.json: \"q1\": expected a string, got null"));
}

TEST_CASE("prediction files round-trip; dataset folders are merged", "[eval]") {
  longqa::test::TempDir dir("longqa-eval");
  const PredictionMap predictions = {{"q1", "서울 \"특별시\""}, {"q2", ""}};
  write_predictions(dir / "predictions.json", predictions);
  CHECK(read_predictions(dir / "predictions.json") == predictions);

  // Like evaluate-2.0.py, every file ending in "json" in the folder is read.
  std::filesystem::create_directory(dir.path() / "set");
  write_text(dir / "set/a.json", korquad2_json);
  write_text(dir / "set/b.json", korquad2_json);
  write_text(dir / "set/notes.txt", "not a dataset");
  const QaDataset merged = read_qa_dataset(dir.path() / "set");
  CHECK(merged.format == DatasetFormat::korquad2);
  REQUIRE(merged.documents.size() == 2);
  CHECK(merged.documents[1].article_index == 1);
  REQUIRE(merged.questions.size() == 4);
  CHECK(merged.questions[3].document_index == 1);
}

TEST_CASE("the shared dev sets read cleanly and gold answers score 100", "[eval][shared-data]") {
  const std::filesystem::path data = std::filesystem::path(LONGQA_SOURCE_DIR) / ".." / "shared" / "data";
  if (longqa::test::skip_unless(std::filesystem::exists(data / "squad1.1"), "no shared data at " + data.string()))
    return;
  struct expected_set {
    const char* path;
    size_t questions;
    MetricKind kind;
  };
  for (const expected_set& set : {expected_set{"squad1.1/dev-v1.1_public.json", 5696, MetricKind::squad_v1},
                                  expected_set{"korquad1/KorQuAD_v1.0_dev_public.json", 2865, MetricKind::korquad_v1},
                                  expected_set{"korquad2", 1, MetricKind::korquad_v2}}) {
    INFO(set.path);
    const QaDataset dataset = read_qa_dataset(data / set.path);
    CHECK(dataset.questions.size() == set.questions);
    CHECK(dataset.warnings.empty());  // the README says every answer_start matches
    PredictionMap gold;
    for (const QaQuestion& question : dataset.questions) gold[question.id] = question.answers.at(0).text;
    const Evaluation result = evaluate(set.kind, dataset, gold);
    CHECK(result.exact_match == 100.0);
    CHECK(result.f1 == 100.0);
  }
}
