// Corpus ingestion (every format, from files written here), HTML to text with offsets,
// and passage windows. No Python and no shared data needed.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "longqa/corpus.h"
#include "longqa/qa_dataset.h"
#include "longqa/qa_metrics.h"
#include "longqa/tokenizer.h"
#include "test_util.h"

using namespace longqa::retriever;
using longqa::test::TempDir;
using longqa::test::write_file;
using nlohmann::json;

namespace {

struct Ingested {
  std::vector<Document> documents;
  std::vector<IngestError> errors;
};

Ingested run_ingest(const std::vector<std::string>& paths, IngestOptions options = {}) {
  Ingested out;
  ingest(
      paths, options, [&](Document&& d) { out.documents.push_back(std::move(d)); },
      [&](const IngestError& e) { out.errors.push_back(e); });
  return out;
}

std::vector<std::string> ids(const Ingested& in) {
  std::vector<std::string> out;
  for (const auto& d : in.documents) out.push_back(d.id);
  return out;
}

// Every text byte comes from the HTML: copied (same byte), decoded from an entity (maps to
// its '&'), a collapsed whitespace run (maps to a whitespace byte) or a separator put in
// for a tag (maps to its '<'). Offsets never go back; the end entry closes the last source.
void check_offsets(const std::string& html, const HtmlText& t) {
  REQUIRE(t.html_offsets.size() == t.text.size() + 1);
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; };
  for (size_t i = 0; i < t.text.size(); ++i) {
    const int64_t off = t.html_offsets[i];
    INFO("text byte " << i << " '" << t.text[i] << "' at html offset " << off);
    REQUIRE(off >= 0);
    REQUIRE(off < static_cast<int64_t>(html.size()));
    if (i > 0) REQUIRE(off >= t.html_offsets[i - 1]);
    const char h = html[static_cast<size_t>(off)], c = t.text[i];
    const bool synthetic = c == '\n' || c == ' ' || c == '|' || c == '-';
    const bool ok = h == c || h == '&' || (synthetic && (h == '<' || space(h)));
    CHECK(ok);
  }
  REQUIRE(t.html_offsets.back() <= static_cast<int64_t>(html.size()));
  if (!t.text.empty()) REQUIRE(t.html_offsets.back() > t.html_offsets[t.text.size() - 1]);
}

}  // namespace

TEST_CASE("JSONL records become documents; bad records are reported with path:line and skipped", "[corpus]") {
  TempDir dir("corpus");
  const std::string path = dir / "docs.jsonl";
  write_file(path,
             "{\"id\": \"a\", \"title\": \"Alpha\", \"text\": \"first text\", \"metadata\": {\"lang\": \"en\"}}\n"
             "{\"text\": \"no id here\"}\r\n"
             "\n"
             "{not json}\n"                                        // 4
             "{\"title\": \"x\"}\n"                                // 5: no text
             "{\"text\": \"   \"}\n"                               // 6: empty text
             "{\"text\": 42}\n"                                    // 7: wrong type
             "{\"text\": \"t\", \"metadata\": [1]}\n"              // 8: metadata not an object
             "{\"text\": \"t\", \"id\": true}\n"                   // 9: id of the wrong type
             "{\"text\": \"bad \xff byte\"}\n"                     // 10: invalid UTF-8
             "[1, 2]\n"                                            // 11: not an object
             "{\"id\": 7, \"text\": \"\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4\", \"title\": null}");  // 12, no final newline
  const auto in = run_ingest({path});
  REQUIRE(in.documents.size() == 3);
  CHECK(in.documents[0].id == "a");
  CHECK(in.documents[0].title == "Alpha");
  CHECK(in.documents[0].text == "first text");
  CHECK(json::parse(in.documents[0].metadata_json) == json{{"lang", "en"}});
  CHECK(in.documents[0].source == path + ":1");
  CHECK(in.documents[1].id == "docs:2");  // derived: file stem and line
  CHECK(in.documents[1].text == "no id here");
  CHECK(in.documents[1].metadata_json == "{}");
  CHECK(in.documents[2].id == "7");
  CHECK(in.documents[2].text == "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4");
  CHECK(in.documents[2].html_offsets.empty());

  REQUIRE(in.errors.size() == 8);
  const std::vector<int> lines = {4, 5, 6, 7, 8, 9, 10, 11};
  for (size_t i = 0; i < lines.size(); ++i) CHECK(in.errors[i].source == path + ":" + std::to_string(lines[i]));
  CHECK_THAT(in.errors[0].message, Catch::Contains("invalid JSON"));
  CHECK_THAT(in.errors[1].message, Catch::Contains("missing field 'text'"));
  CHECK_THAT(in.errors[2].message, Catch::Contains("'text' is empty"));
  CHECK_THAT(in.errors[3].message, Catch::Contains("'text' must be a string, got number"));
  CHECK_THAT(in.errors[4].message, Catch::Contains("'metadata' must be an object"));
  CHECK_THAT(in.errors[5].message, Catch::Contains("'id' must be a string or an integer, got boolean"));
  CHECK_THAT(in.errors[6].message, Catch::Contains("invalid UTF-8 at column 15"));
  CHECK_THAT(in.errors[7].message, Catch::Contains("expected a JSON object"));
}

TEST_CASE("fail_on_error throws at the first bad record, naming path and line", "[corpus]") {
  TempDir dir("corpus");
  const std::string path = dir / "docs.jsonl";
  write_file(path, "{\"text\": \"fine\"}\n{\"text\": \"\"}\n{\"text\": 1}\n");
  IngestOptions options;
  options.fail_on_error = true;
  int documents = 0;
  try {
    ingest(
        {path}, options, [&](Document&&) { ++documents; }, [](const IngestError&) { FAIL("not reported"); });
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(std::string(e.what()), Catch::StartsWith(path + ":2: ") && Catch::Contains("'text' is empty"));
  }
  CHECK(documents == 1);
  CHECK_THROWS_WITH(run_ingest({dir / "missing.jsonl"}, options), Catch::Contains("missing.jsonl: no such file"));
}

TEST_CASE("text and markdown files: one document each, titles from headings or first lines", "[corpus]") {
  TempDir dir("corpus");
  write_file(dir / "notes.txt", "\n\n  First line here  \nsecond line\n");
  write_file(dir / "page.md", "intro text\n```\n# not a heading (code)\n```\n## Real Title ##\nbody\n");
  write_file(dir / "plain.markdown", "no headings\n#hashtag is not one\n");
  write_file(dir / "bom.txt", "\xEF\xBB\xBFwith bom\n");
  write_file(dir / "empty.txt", "  \n\n");
  write_file(dir / "broken.md", "line one\nline two \xc3\x28 bad\n");
  const auto in = run_ingest({dir.path().string()});
  REQUIRE(ids(in) == std::vector<std::string>{"bom.txt", "notes.txt", "page.md", "plain.markdown"});
  CHECK(in.documents[0].text == "with bom\n");
  CHECK(in.documents[1].title == "First line here");
  CHECK(in.documents[1].text == "\n\n  First line here  \nsecond line\n");  // kept as written
  CHECK(in.documents[1].source == (dir.path() / "notes.txt").string());
  CHECK(in.documents[2].title == "Real Title");
  CHECK(in.documents[3].title == "no headings");
  REQUIRE(in.errors.size() == 2);
  CHECK(in.errors[0].source == (dir.path() / "broken.md").string() + ":2");
  CHECK_THAT(in.errors[0].message, Catch::Contains("invalid UTF-8 at byte offset 18"));
  CHECK(in.errors[1].source == (dir.path() / "empty.txt").string());
  CHECK_THAT(in.errors[1].message, Catch::Contains("empty document"));
}

TEST_CASE("folders are read recursively in sorted order, by extension, hidden entries skipped", "[corpus]") {
  TempDir dir("corpus");
  std::filesystem::create_directories(dir.path() / "b" / "deep");
  std::filesystem::create_directories(dir.path() / "a");
  std::filesystem::create_directories(dir.path() / ".hidden");
  write_file(dir.path() / "b" / "deep" / "z.txt", "z");
  write_file(dir.path() / "b" / "c.TXT", "c");
  write_file(dir.path() / "a" / "y.md", "y");
  write_file(dir.path() / "a" / "x.jsonl", "{\"text\": \"x\"}\n");
  write_file(dir.path() / "a" / "skip.csv", "not a corpus file");
  write_file(dir.path() / ".hidden" / "h.txt", "h");
  write_file(dir.path() / "top.txt", "t");
  auto in = run_ingest({dir.path().string()});
  CHECK(in.errors.empty());
  CHECK(ids(in) == std::vector<std::string>{"a/x:1", "a/y.md", "b/c.TXT", "b/deep/z.txt", "top.txt"});

  IngestOptions only_text;
  only_text.extensions = {".txt"};
  in = run_ingest({(dir.path() / "b").string(), dir / "a/y.md"}, only_text);  // a file given by name is read anyway
  CHECK(ids(in) == std::vector<std::string>{"c.TXT", "deep/z.txt", "y.md"});

  in = run_ingest({dir / "a/skip.csv"});
  REQUIRE(in.errors.size() == 1);
  CHECK_THAT(in.errors[0].message, Catch::Contains("unsupported file type '.csv'"));
}

TEST_CASE("SQuAD/KorQuAD 1.0 JSON: one document per paragraph, or per article", "[corpus]") {
  TempDir dir("corpus");
  const std::string path = dir / "squad.json";
  const json squad = {
      {"version", "1.1"},
      {"data",
       {{{"title", "Seoul"},
         {"paragraphs",
          {{{"context", "Seoul is the capital."}, {"qas", json::array()}},
           {{"context", "\xec\x84\x9c\xec\x9a\xb8 is big."}, {"qas", json::array()}}}}},
        {{"title", "Busan"}, {"paragraphs", {{{"context", 5}}, {{"context", "Busan is a port."}}}}},
        {{"title", "Seoul"}, {"paragraphs", {{{"context", "Another Seoul article."}}}}},
        {{"title", "NoParagraphs"}}}}};
  write_file(path, squad.dump(1));

  auto in = run_ingest({path});
  CHECK(ids(in) == std::vector<std::string>{"Seoul#p0", "Seoul#p1", "Busan#p1", "Seoul#a2#p0"});
  CHECK(in.documents[1].text == "\xec\x84\x9c\xec\x9a\xb8 is big.");
  CHECK(in.documents[1].title == "Seoul");
  CHECK(in.documents[1].source == path + "#0/1");
  CHECK(json::parse(in.documents[2].metadata_json) == json{{"article", 1}, {"paragraph", 1}});
  REQUIRE(in.errors.size() == 2);
  CHECK(in.errors[0].source == path + "#data[1].paragraphs[0]");
  CHECK(in.errors[1].source == path + "#data[3]");

  IngestOptions articles;
  articles.squad_unit = SquadUnit::kArticle;
  in = run_ingest({path}, articles);
  CHECK(ids(in) == std::vector<std::string>{"Seoul", "Busan", "Seoul#a2"});
  CHECK(in.documents[0].text == "Seoul is the capital.\n\n\xec\x84\x9c\xec\x9a\xb8 is big.");
  CHECK(in.documents[0].source == path + "#0");
  CHECK(json::parse(in.documents[0].metadata_json)["paragraph_starts"] == json{0, 23});
  CHECK(in.documents[1].text == "Busan is a port.");
  CHECK(in.errors.size() == 2);
}

TEST_CASE("SQuAD/KorQuAD documents have the ids and texts of eval's dataset reader", "[corpus]") {
  TempDir dir("corpus");
  const json qa = {{"id", "q"}, {"question", "?"}, {"answers", {{{"text", "x"}, {"answer_start", 0}}}}};
  const json squad = {
      {"data",
       {{{"title", "Seoul"},
         {"paragraphs", {{{"context", "first"}, {"qas", {qa}}}, {{"context", "  "}, {"qas", json::array()}},
                         {{"context", "third"}, {"qas", json::array()}}}}},
        {{"paragraphs", {{{"context", "untitled"}, {"qas", json::array()}}}}},
        {{"title", "Seoul"}, {"paragraphs", {{{"context", "again"}, {"qas", json::array()}}}}},
        {{"title", "dev"}, {"paragraphs", {{{"context", "named like the file"}, {"qas", json::array()}}}}}}}};
  const std::string path = dir / "dev.json";
  write_file(path, squad.dump());
  const longqa::eval::QaDataset data = longqa::eval::read_qa_dataset(path);
  auto in = run_ingest({path});
  std::vector<std::string> eval_ids;
  for (const auto& d : data.documents) eval_ids.push_back(d.id);
  // The blank paragraph is no corpus document, but its index stays in the others' ids.
  CHECK(ids(in) == std::vector<std::string>{"Seoul#p0", "Seoul#p2", "dev#a1#p0", "Seoul#a2#p0", "dev#a3#p0"});
  CHECK(eval_ids == std::vector<std::string>{"Seoul#p0", "Seoul#p1", "Seoul#p2", "dev#a1#p0", "Seoul#a2#p0", "dev#a3#p0"});
  REQUIRE(in.errors.size() == 1);
  CHECK(in.errors[0].source == path + "#data[0].paragraphs[1]");

  IngestOptions articles;
  articles.squad_unit = SquadUnit::kArticle;
  in = run_ingest({path}, articles);
  CHECK(ids(in) == std::vector<std::string>{"Seoul", "dev#a1", "Seoul#a2", "dev#a3"});
  CHECK(in.documents[0].text == "first\n\nthird");
  CHECK(json::parse(in.documents[0].metadata_json) == json{{"article", 0}, {"paragraph_starts", {0, 7}}});
  // The evaluation's whole article keeps every paragraph, with the same separator and ids.
  const longqa::eval::ArticleText whole = longqa::eval::article_text(data, 0);
  CHECK(whole.id == "Seoul");
  CHECK(whole.text == "first\n\n  \n\nthird");
  CHECK(whole.paragraph_starts == std::vector<size_t>{0, 7, 11});
  CHECK((whole.first_document == 0 && longqa::eval::article_text(data, 2).first_document == 4));
  CHECK(longqa::eval::article_text(data, 9).id.empty());

  // KorQuAD 2.x: a repeated title is told apart the same way on both sides.
  const json page = {{"title", "T"}, {"context", "<p>x</p>"}, {"qas", {{{"id", "k"}, {"question", "?"},
                                                                   {"answer", {{"text", "x"}, {"answer_start", 3}}}}}}};
  const std::string k2 = dir / "k2.json";
  write_file(k2, json{{"data", {page, page}}}.dump());
  in = run_ingest({k2});
  CHECK(ids(in) == std::vector<std::string>{"T", "T#a1"});
  const longqa::eval::QaDataset pages = longqa::eval::read_qa_dataset(k2);
  REQUIRE(pages.documents.size() == 2);
  CHECK((pages.documents[0].id == "T" && pages.documents[1].id == "T#a1"));
}

TEST_CASE("unknown or broken JSON files are reported by name", "[corpus]") {
  TempDir dir("corpus");
  write_file(dir / "other.json", R"({"rows": [1, 2, 3]})");
  write_file(dir / "broken.json", "{\n  \"data\": [\n    {\"title\": }\n  ]\n}\n");
  const auto in = run_ingest({dir / "other.json", dir / "broken.json"});
  CHECK(in.documents.empty());
  REQUIRE(in.errors.size() == 2);
  CHECK(in.errors[0].source == dir / "other.json");
  CHECK_THAT(in.errors[0].message, Catch::Contains("unrecognised JSON layout"));
  CHECK(in.errors[1].source == dir / "broken.json" + ":3");
  CHECK_THAT(in.errors[1].message, Catch::Contains("invalid JSON"));
}

TEST_CASE("KorQuAD 2.x JSON: HTML contexts become readable text with tables and lists", "[corpus]") {
  const std::string html =
      "<!DOCTYPE html><html><head><title>T-X \xed\x94\x84\xeb\xa1\x9c\xea\xb7\xb8\xeb\x9e\xa8 - wiki</title>"
      "<style>p { color: red; }</style></head>\n<body>\n"
      "<h1>T-X \xed\x94\x84\xeb\xa1\x9c\xea\xb7\xb8\xeb\x9e\xa8</h1>\n"
      "<p><b>T-X</b> is a &quot;program&quot; &amp; more&nbsp;text.\n</p>"
      "<table class=\"wikitable\">\n<tr><th>\xea\xb8\xb0\xec\xa2\x85</th><th>Maker</th></tr>\n"
      "<tr><td>M-346</td>\n<td>Raytheon &lt;US&gt;<br>Leonardo</td></tr>\n</table>\n"
      "<ul>\n<li>first</li>\n<li>second\n<ul><li>inner</li></ul>\n</li>\n</ul>\n"
      "<script>var x = \"<p>no</p>\";</script><!-- a <p>comment</p> -->\n"
      "<p>360\xeb\x8c\x80 &#xAC00;&#44032;</p></body></html>";
  const std::string expected =
      "T-X \xed\x94\x84\xeb\xa1\x9c\xea\xb7\xb8\xeb\x9e\xa8\n"
      "T-X is a \"program\" & more text.\n"
      "\xea\xb8\xb0\xec\xa2\x85 | Maker\n"
      "M-346 | Raytheon <US> Leonardo\n"
      "- first\n"
      "- second\n"
      "  - inner\n"
      "360\xeb\x8c\x80 \xea\xb0\x80\xea\xb0\x80";
  TempDir dir("corpus");
  const std::string path = dir / "korquad2.json";
  const json doc = {{"version", "KorQuAD_2.1"},
                    {"data",
                     {{{"title", "T-X \xed\x94\x84\xeb\xa1\x9c\xea\xb7\xb8\xeb\x9e\xa8"},
                       {"url", "https://ko.wikipedia.org/wiki/T-X"},
                       {"context", html},
                       {"raw_html", "<html>unused</html>"},
                       {"qas", json::array()}},
                      {{"title", "broken"}, {"context", 3}}}}};
  write_file(path, doc.dump());
  const auto in = run_ingest({path});
  REQUIRE(in.documents.size() == 1);
  const Document& d = in.documents[0];
  CHECK(d.text == expected);
  CHECK(d.id == "T-X \xed\x94\x84\xeb\xa1\x9c\xea\xb7\xb8\xeb\x9e\xa8");
  CHECK(d.source == path + "#0");
  CHECK(json::parse(d.metadata_json) == json{{"url", "https://ko.wikipedia.org/wiki/T-X"}});
  check_offsets(html, {d.text, d.html_offsets});
  // An answer found in the text maps back to the same characters in the HTML.
  const std::string answer = "360\xeb\x8c\x80";
  const size_t at = d.text.find(answer);
  REQUIRE(at != std::string::npos);
  CHECK(html.compare(static_cast<size_t>(d.html_offsets[at]), answer.size(), answer) == 0);
  CHECK(html[static_cast<size_t>(d.html_offsets[d.text.find("\"program")])] == '&');
  REQUIRE(in.errors.size() == 1);
  CHECK(in.errors[0].source == path + "#data[1]");
}

TEST_CASE("HTML files: title from <title>, text and offsets from the page", "[corpus]") {
  TempDir dir("corpus");
  const std::string html = "<html><head><title>My &amp; Page</title></head><body><p>Body text</p></body></html>";
  write_file(dir / "page.html", html);
  write_file(dir / "blank.htm", "<html><body><script>only()</script></body></html>");
  const auto in = run_ingest({dir.path().string()});
  REQUIRE(in.documents.size() == 1);
  CHECK(in.documents[0].id == "page.html");
  CHECK(in.documents[0].title == "My & Page");
  CHECK(in.documents[0].text == "Body text");
  CHECK(in.documents[0].html_offsets.front() == static_cast<int64_t>(html.find("Body")));
  REQUIRE(in.errors.size() == 1);
  CHECK_THAT(in.errors[0].message, Catch::Contains("no text"));
}

TEST_CASE("html_to_readable_text: whitespace, entities, pre, separators and their offsets", "[corpus][html]") {
  CHECK(html_to_readable_text("").text.empty());
  CHECK(html_to_readable_text("").html_offsets == std::vector<int64_t>{0});
  CHECK(html_to_readable_text("  a \n\t b  ").text == "a b");
  CHECK(html_to_readable_text("a<b>b</b>c <i>d</i>").text == "abc d");
  CHECK(html_to_readable_text("<p>one</p><p>two</p><div><div>three</div></div>").text == "one\ntwo\nthree");
  CHECK(html_to_readable_text("x<br>y<br/>z<br />w").text == "x\ny\nz\nw");
  CHECK(html_to_readable_text("&lt;&gt;&amp;&quot;&#39;&apos;&#65;&#x42;&#x1F600;&eacute;&Omega;&hellip;").text ==
        "<>&\"''AB\xf0\x9f\x98\x80\xc3\xa9\xce\xa9\xe2\x80\xa6");
  CHECK(html_to_readable_text("AT&T &unknown; &amp &#;").text == "AT&T &unknown; &amp &#;");  // not entities: kept
  CHECK(html_to_readable_text("a&nbsp;&nbsp;b").text == "a b");
  CHECK(html_to_readable_text("1 < 2 and 3 > 2").text == "1 < 2 and 3 > 2");
  CHECK(html_to_readable_text("<PRE>  keep\n   this</PRE>after").text == "  keep\n   this\nafter");
  CHECK(html_to_readable_text("<STYLE>x</STYLE><Script type='a>b'>y</SCRIPT>z<noscript>n</noscript>").text == "z");
  CHECK(html_to_readable_text("a<img src=\"x>y\" alt='q'>b").text == "ab");
  CHECK(html_to_readable_text("<table><tr><td>a</td><td></td><td>c</td></tr><tr><td><p>d1</p><p>d2</p></td></tr></table>")
            .text == "a | c\nd1 d2");
  CHECK(html_to_readable_text("<ol><li><p>x</p></li><li>y</li></ol>").text == "- x\n- y");

  const std::string html = "<p>a &amp; b</p>\n<table><tr><td>c</td><td>d</td></tr></table><ul><li>e</li></ul>";
  const HtmlText t = html_to_readable_text(html);
  REQUIRE(t.text == "a & b\nc | d\n- e");
  check_offsets(html, t);
  CHECK(t.html_offsets[2] == static_cast<int64_t>(html.find("&amp;")));               // decoded: the entity
  CHECK(t.html_offsets[5] == static_cast<int64_t>(html.find("</p>")));                // break: its tag
  CHECK(t.html_offsets[7] == static_cast<int64_t>(html.find("<td>d")));               // cell separator: its tag
  CHECK(t.html_offsets[11] == static_cast<int64_t>(html.find("</tr>")));              // row break: its tag
  CHECK(t.html_offsets[12] == static_cast<int64_t>(html.find("<li>")));               // item prefix: its tag
  CHECK(t.html_offsets.back() == static_cast<int64_t>(html.find("e</li>")) + 1);      // end: after the last source
}

TEST_CASE("html_to_readable_text decodes entity names with the scorer's table", "[corpus][html]") {
  // One table (HTML5's names) for retrieval and scoring; here each name needs its ';'.
  for (const char* name : {"amp", "AMP", "lt", "hellip", "eacute", "Omega", "AElig", "zwnj", "lang", "NotEqualTilde",
                           "CounterClockwiseContourIntegral", "fjlig", "bne"}) {
    INFO(name);
    const std::string html = "x&" + std::string(name) + ";y";
    CHECK(html_to_readable_text(html).text == longqa::eval::html_get_text(html));
  }
  const std::string html = "a &NotEqualTilde; b";
  const HtmlText t = html_to_readable_text(html);
  CHECK(t.text == "a \u2242\u0338 b");
  check_offsets(html, t);
  CHECK(html_to_readable_text("&NotEqualTilde &AElig").text == "&NotEqualTilde &AElig");  // no ';': kept
}

TEST_CASE("html_to_readable_text offsets hold on random markup", "[corpus][html]") {
  const std::vector<std::string> pieces = {
      "<p>", "</p>", "<br>", "<td>", "</td>", "<tr>", "<table>", "</table>", "<li>", "<ul>", "</ul>", "&amp;",
      "&#xAC00;", "&nbsp;", "&bogus;", " ", "\n  ", "word", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4", "<b>", "</b>",
      "<!-- c -->", "<script>x<y</script>", "<", "&", "<pre> a  b\n</pre>", "<div class='x>'>", "</div>"};
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string html;
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) html += pieces[rng() % pieces.size()];
    INFO(html);
    const HtmlText t = html_to_readable_text(html);
    check_offsets(html, t);
    // Valid UTF-8 in, valid UTF-8 out.
    CHECK_NOTHROW(longqa::validate_utf8(t.text));
  }
}

TEST_CASE("split_passages: overlapping windows at token boundaries cover every token", "[corpus][passages]") {
  const longqa::Tokenizer tokenizer(longqa::test::tiny_vocab(), {});
  std::string text;
  for (int i = 0; i < 103; ++i) text += "w" + std::to_string(i % 200) + (i % 7 == 0 ? ", " : " ");
  std::vector<std::pair<int64_t, int64_t>> token_bytes;
  for (const auto& t : tokenizer.tokenize(text)) token_bytes.emplace_back(t.begin, t.end);
  const int64_t n = static_cast<int64_t>(token_bytes.size());
  REQUIRE(n > 100);

  for (const auto& [window, overlap] : std::vector<std::pair<int64_t, int64_t>>{{16, 4}, {10, 0}, {7, 6}, {1000, 10}}) {
    INFO("window " << window << " overlap " << overlap);
    const auto passages = split_passages(token_bytes, window, overlap);
    REQUIRE(!passages.empty());
    CHECK(passages.front().begin == token_bytes.front().first);
    CHECK(passages.back().end == token_bytes.back().second);
    std::vector<int> covered(static_cast<size_t>(n), 0);
    for (size_t p = 0; p < passages.size(); ++p) {
      CHECK(passages[p].index == static_cast<int64_t>(p));
      int64_t inside = 0;
      for (int64_t t = 0; t < n; ++t) {
        const auto& [b, e] = token_bytes[static_cast<size_t>(t)];
        if (b >= passages[p].begin && e <= passages[p].end) ++covered[static_cast<size_t>(t)], ++inside;
      }
      CHECK(inside <= window);
      if (p + 1 < passages.size()) {
        CHECK(inside == window);
        // The next window starts `overlap` tokens before this one ends.
        const auto next_begin = std::find_if(token_bytes.begin(), token_bytes.end(),
                                             [&](const auto& tb) { return tb.first == passages[p + 1].begin; });
        const auto this_end = std::find_if(token_bytes.begin(), token_bytes.end(),
                                           [&](const auto& tb) { return tb.second == passages[p].end; });
        CHECK(this_end - next_begin + 1 == overlap);
      }
    }
    for (int64_t t = 0; t < n; ++t) CHECK(covered[static_cast<size_t>(t)] >= 1);
  }
  CHECK(split_passages({}, 16, 4).empty());
  CHECK(split_passages({{0, 3}}, 16, 4).size() == 1);
  CHECK_THROWS_AS(split_passages(token_bytes, 8, 8), std::invalid_argument);
  CHECK_THROWS_AS(split_passages(token_bytes, 0, 0), std::invalid_argument);
}
