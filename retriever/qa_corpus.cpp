// SQuAD/KorQuAD 1.0 and KorQuAD 2.x JSON files as corpus documents, read by eval's dataset
// reader (longqa/qa_dataset.h, corpus mode) so that document ids and metadata are the ones
// the evaluation finds its gold by.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "ingest_detail.h"
#include "longqa/qa_dataset.h"

namespace longqa::retriever::detail {

using nlohmann::json;

void ingest_qa_json(const std::string& path, const std::string& stem, const std::string& content, SquadUnit unit,
                    const std::function<void(Document&&)>& sink, const IngestErrorFn& error) {
  eval::QaReadOptions options;
  options.mode = eval::QaReadMode::corpus;
  options.untitled_name = stem;
  const eval::QaDataset data = eval::parse_qa_dataset(content, path, options);

  // What the reader skipped, reported in file order among the documents: everything before
  // (article, paragraph).
  size_t next = 0;
  const auto report_before = [&](size_t article, size_t paragraph) {
    for (; next < data.skipped.size(); ++next) {
      const eval::QaSkipped& s = data.skipped[next];
      if (s.article_index > article || (s.article_index == article && s.paragraph_index >= paragraph)) break;
      if (!s.json_path.empty()) {
        error(path + "#" + s.json_path, s.message);
      } else if (s.byte_offset != std::string::npos) {
        error(path + ":" + std::to_string(line_of(content, s.byte_offset)), s.message);  // invalid JSON
      } else {
        error(path, s.message + " (for one record per line, use .jsonl)");  // not a dataset layout
      }
    }
  };

  const auto& documents = data.documents;
  if (data.format == eval::DatasetFormat::korquad2) {
    for (const eval::QaDocument& d : documents) {
      report_before(d.article_index, 0);
      HtmlText converted = html_to_readable_text(d.context);
      if (converted.text.empty()) {
        error(path + "#data[" + std::to_string(d.article_index) + "]", "no text in the HTML 'context'");
        continue;
      }
      Document doc;
      doc.id = d.id;
      doc.title = d.title;
      doc.text = std::move(converted.text);
      doc.html_offsets = std::move(converted.html_offsets);
      json metadata = json::object();
      if (d.url) metadata["url"] = *d.url;
      doc.metadata_json = metadata.dump();
      doc.source = path + "#" + std::to_string(d.article_index);
      sink(std::move(doc));
    }
  } else if (unit == SquadUnit::kParagraph) {
    for (const eval::QaDocument& d : documents) {
      report_before(d.article_index, d.paragraph_index);
      Document doc;
      doc.id = d.id;
      doc.title = d.title;
      doc.text = d.context;
      doc.metadata_json = json{{"article", d.article_index}, {"paragraph", d.paragraph_index}}.dump();
      doc.source = path + "#" + std::to_string(d.article_index) + "/" + std::to_string(d.paragraph_index);
      sink(std::move(doc));
    }
  } else {
    for (size_t i = 0; i < documents.size();) {
      const size_t a = documents[i].article_index;
      eval::ArticleText article = eval::article_text(data, a);
      i = article.first_document + article.paragraph_starts.size();
      report_before(a + 1, 0);  // its skipped paragraphs come first
      Document doc;
      doc.id = std::move(article.id);
      doc.title = std::move(article.title);
      doc.text = std::move(article.text);
      // Byte offset of each paragraph in the text (skipped paragraphs have none).
      doc.metadata_json = json{{"article", a}, {"paragraph_starts", article.paragraph_starts}}.dump();
      doc.source = path + "#" + std::to_string(a);
      sink(std::move(doc));
    }
  }
  report_before(SIZE_MAX, SIZE_MAX);
}

}  // namespace longqa::retriever::detail
