// Reading SQuAD-style and KorQuAD 2.x datasets and official-format prediction files.
#include "longqa/qa_dataset.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "longqa/common/errors.h"
#include "python_text.h"

namespace longqa::eval {
namespace {

using json = nlohmann::json;

// Errors name the file and the JSON path of the offending value.
class json_reader {
 public:
  explicit json_reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& path, const std::string& message) const {
    throw std::runtime_error(source_ + ": " + path + ": " + message);
  }

  const json& member(const json& object, const std::string& path, const char* key) const {
    if (!object.is_object()) fail(path, std::string("expected an object, got ") + object.type_name());
    const auto it = object.find(key);
    if (it == object.end()) fail(path, std::string("missing field \"") + key + "\"");
    return *it;
  }

  const json* optional_member(const json& object, const char* key) const {
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
  }

  std::string string(const json& value, const std::string& path) const {
    if (!value.is_string()) fail(path, std::string("expected a string, got ") + value.type_name());
    return value.get<std::string>();
  }

  std::string string_member(const json& object, const std::string& path, const char* key) const {
    return string(member(object, path, key), path + "." + key);
  }

  int64_t integer_member(const json& object, const std::string& path, const char* key) const {
    const json& value = member(object, path, key);
    if (!value.is_number_integer())
      fail(path + "." + key, std::string("expected an integer, got ") + value.type_name());
    return value.get<int64_t>();
  }

  const json& array_member(const json& object, const std::string& path, const char* key) const {
    const json& value = member(object, path, key);
    if (!value.is_array()) fail(path + "." + key, std::string("expected an array, got ") + value.type_name());
    return value;
  }

  const std::string& source() const { return source_; }

 private:
  const std::string& source_;
};

json parse_json(std::string_view text, const std::string& source) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double
    throw std::runtime_error(source + ": invalid JSON: " + e.what());
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path.string() + ": read error");
  return text.str();
}

// Byte offset of every code point of a UTF-8 string, plus its size at the end.
std::vector<size_t> code_point_offsets(const std::string& text) {
  std::vector<size_t> offsets;
  offsets.reserve(text.size() + 1);
  for (size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) offsets.push_back(i);
  offsets.push_back(text.size());
  return offsets;
}

size_t code_point_count(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// Fills the byte offsets and checks that answer_start slices the context to the text.
void locate_answer(QaAnswer& answer, const std::string& context, const std::vector<size_t>& offsets,
                   const std::string& where, std::vector<std::string>& warnings) {
  const int64_t cp_count = static_cast<int64_t>(offsets.size()) - 1;
  const int64_t end = answer.answer_start + static_cast<int64_t>(code_point_count(answer.text));
  if (answer.answer_start >= 0 && answer.answer_start <= cp_count)
    answer.byte_start = offsets[static_cast<size_t>(answer.answer_start)];
  if (answer.answer_start >= 0 && end <= cp_count) answer.byte_end = offsets[static_cast<size_t>(end)];
  answer.matches_context = answer.byte_start != std::string::npos && answer.byte_end != std::string::npos &&
                           context.compare(answer.byte_start, answer.byte_end - answer.byte_start, answer.text) == 0;
  if (!answer.matches_context) {
    warnings.push_back(where + ": answer_start " + std::to_string(answer.answer_start) +
                       " does not slice the context to the answer text \"" + answer.text + "\"");
  }
}

bool is_blank(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
  });
}

// One file's articles into a dataset, in either mode (see QaReadMode).
class dataset_reader {
 public:
  dataset_reader(const json_reader& reader, const QaReadOptions& options, QaDataset& dataset)
      : reader_(reader),
        corpus_(options.mode == QaReadMode::corpus),
        untitled_(options.untitled_name.empty() ? std::filesystem::path(reader.source()).stem().string()
                                                : options.untitled_name),
        dataset_(dataset) {}

  void squad_article(const json& article, size_t article_index, const std::string& path) {
    const json* paragraphs = nullptr;
    if (corpus_) {
      const auto it = article.is_object() ? article.find("paragraphs") : article.end();
      if (!article.is_object() || it == article.end() || !it->is_array())
        return skip(path, article_index, 0, "article has no 'paragraphs' array");
      paragraphs = &*it;
    } else {
      paragraphs = &reader_.array_member(article, path, "paragraphs");
    }
    const std::string title = title_of(article, path, false);
    const std::string key = article_id(title, article_index);
    for (size_t p = 0; p < paragraphs->size(); ++p) {
      const std::string paragraph_path = path + ".paragraphs[" + std::to_string(p) + "]";
      const json& paragraph = (*paragraphs)[p];
      QaDocument document;
      document.id = key + "#p" + std::to_string(p);
      document.article_id = key;
      document.title = title;
      document.article_index = article_index;
      document.paragraph_index = p;
      if (corpus_) {
        const auto context = paragraph.is_object() ? paragraph.find("context") : paragraph.end();
        if (!paragraph.is_object() || context == paragraph.end() || !context->is_string() ||
            is_blank(context->get_ref<const std::string&>())) {
          skip(paragraph_path, article_index, p, "paragraph has no non-empty string 'context'");
          continue;
        }
        document.context = context->get<std::string>();
        dataset_.documents.push_back(std::move(document));
        continue;
      }
      document.context = reader_.string_member(paragraph, paragraph_path, "context");
      const std::vector<size_t> offsets = code_point_offsets(document.context);
      const json& qas = reader_.array_member(paragraph, paragraph_path, "qas");
      for (size_t q = 0; q < qas.size(); ++q) {
        const std::string qa_path = paragraph_path + ".qas[" + std::to_string(q) + "]";
        const json& qa = qas[q];
        QaQuestion question;
        question.id = reader_.string_member(qa, qa_path, "id");
        question.question = reader_.string_member(qa, qa_path, "question");
        question.document_index = dataset_.documents.size();
        if (const json* impossible = reader_.optional_member(qa, "is_impossible")) {
          if (!impossible->is_boolean())
            reader_.fail(qa_path + ".is_impossible", std::string("expected a boolean, got ") + impossible->type_name());
          question.is_impossible = impossible->get<bool>();
        }
        const json& answers = reader_.array_member(qa, qa_path, "answers");
        for (size_t a = 0; a < answers.size(); ++a) {
          const std::string answer_path = qa_path + ".answers[" + std::to_string(a) + "]";
          QaAnswer answer;
          answer.text = reader_.string_member(answers[a], answer_path, "text");
          answer.answer_start = reader_.integer_member(answers[a], answer_path, "answer_start");
          locate_answer(answer, document.context, offsets, reader_.source() + ": " + answer_path, dataset_.warnings);
          question.answers.push_back(std::move(answer));
        }
        dataset_.questions.push_back(std::move(question));
      }
      dataset_.documents.push_back(std::move(document));
    }
  }

  void korquad2_document(const json& entry, size_t article_index, const std::string& path) {
    QaDocument document;
    document.article_index = article_index;
    if (corpus_) {
      const auto context = entry.is_object() ? entry.find("context") : entry.end();
      if (!entry.is_object() || context == entry.end() || !context->is_string())
        return skip(path, article_index, 0, "document has no string 'context' (HTML)");
      document.context = context->get<std::string>();
      document.title = title_of(entry, path, false);
    } else {
      document.title = title_of(entry, path, true);
      document.context = reader_.string_member(entry, path, "context");
    }
    if (const json* url = entry.is_object() ? reader_.optional_member(entry, "url") : nullptr; url && url->is_string())
      document.url = url->get<std::string>();
    document.article_id = document.id = article_id(document.title, article_index);
    if (corpus_) {
      dataset_.documents.push_back(std::move(document));
      return;
    }
    const std::vector<size_t> offsets = code_point_offsets(document.context);
    const json& qas = reader_.array_member(entry, path, "qas");
    for (size_t q = 0; q < qas.size(); ++q) {
      const std::string qa_path = path + ".qas[" + std::to_string(q) + "]";
      const json& qa = qas[q];
      QaQuestion question;
      question.id = reader_.string_member(qa, qa_path, "id");
      question.question = reader_.string_member(qa, qa_path, "question");
      question.document_index = dataset_.documents.size();
      const std::string answer_path = qa_path + ".answer";
      const json& answer_json = reader_.member(qa, qa_path, "answer");
      QaAnswer answer;
      answer.text = reader_.string_member(answer_json, answer_path, "text");
      answer.answer_start = reader_.integer_member(answer_json, answer_path, "answer_start");
      locate_answer(answer, document.context, offsets, reader_.source() + ": " + answer_path, dataset_.warnings);
      question.answers.push_back(std::move(answer));
      dataset_.questions.push_back(std::move(question));
    }
    dataset_.documents.push_back(std::move(document));
  }

 private:
  // Evaluation: squad's title is optional, korquad2's required; a present one must be a
  // string. Corpus: anything but a string reads as missing.
  std::string title_of(const json& article, const std::string& path, bool required) const {
    if (corpus_) {
      const auto it = article.find("title");
      return it != article.end() && it->is_string() ? it->get<std::string>() : "";
    }
    if (required) return reader_.string_member(article, path, "title");
    const json* value = reader_.optional_member(article, "title");
    return value ? reader_.string(*value, path + ".title") : "";
  }

  // The article's title; a missing one, one seen before or one equal to the untitled name
  // gets the article index too.
  std::string article_id(std::string title, size_t article_index) {
    if (title.empty()) title = untitled_;
    if (!seen_titles_.insert(title).second || title == untitled_) title += "#a" + std::to_string(article_index);
    return title;
  }

  void skip(const std::string& path, size_t article_index, size_t paragraph_index, std::string message) {
    dataset_.skipped.push_back({path, std::move(message), article_index, paragraph_index, std::string::npos});
  }

  const json_reader& reader_;
  const bool corpus_;
  const std::string untitled_;
  std::set<std::string> seen_titles_;
  QaDataset& dataset_;
};

// Appends `part` to `merged`, shifting its article and document indices.
void append_dataset(QaDataset& merged, QaDataset part, size_t article_offset) {
  const size_t document_offset = merged.documents.size();
  for (QaDocument& document : part.documents) {
    document.article_index += article_offset;
    merged.documents.push_back(std::move(document));
  }
  for (QaQuestion& question : part.questions) {
    question.document_index += document_offset;
    merged.questions.push_back(std::move(question));
  }
  for (std::string& warning : part.warnings) merged.warnings.push_back(std::move(warning));
  for (QaSkipped& skipped : part.skipped) {
    skipped.article_index += article_offset;
    merged.skipped.push_back(std::move(skipped));
  }
}

}  // namespace

const char* to_string(DatasetFormat format) {
  return format == DatasetFormat::korquad2 ? "korquad2" : "squad";
}

namespace {

// Corpus mode: the layout, or why the file is not a dataset.
const json* corpus_layout(const json& root, QaDataset& dataset) {
  const auto data = root.is_object() ? root.find("data") : root.end();
  const json* first = data != root.end() && data->is_array() && !data->empty() && (*data)[0].is_object() ? &(*data)[0] : nullptr;
  if (first && first->contains("paragraphs")) {
    dataset.format = DatasetFormat::squad;
  } else if (first && first->contains("context")) {
    dataset.format = DatasetFormat::korquad2;
  } else {
    dataset.skipped.push_back({"",
                               "unrecognised JSON layout: expected SQuAD/KorQuAD 1.0 {\"data\": [{\"title\", "
                               "\"paragraphs\": [{\"context\"}]}]} or KorQuAD 2.x {\"data\": [{\"title\", \"url\", "
                               "\"context\"}]}",
                               0, 0, std::string::npos});
    return nullptr;
  }
  if (const auto version = root.find("version"); version != root.end() && version->is_string())
    dataset.version = version->get<std::string>();
  return &*data;
}

}  // namespace

QaDataset parse_qa_dataset(std::string_view json_text, const std::string& source, const QaReadOptions& options) {
  QaDataset dataset;
  const json_reader reader(source);
  json root;
  const json* data = nullptr;
  if (options.mode == QaReadMode::corpus) {
    try {
      root = json::parse(json_text.begin(), json_text.end());
    } catch (const json::parse_error& e) {
      dataset.skipped.push_back({"", "invalid JSON: " + json_error_text(e), 0, 0, e.byte > 0 ? e.byte - 1 : 0});
      return dataset;
    } catch (const json::exception& e) {  // out_of_range: a number past double
      dataset.skipped.push_back({"", "invalid JSON: " + json_error_text(e), 0, 0, 0});
      return dataset;
    }
    data = corpus_layout(root, dataset);
    if (!data) return dataset;
  } else {
    root = parse_json(json_text, source);
    if (!root.is_object()) reader.fail("(top level)", std::string("expected an object, got ") + root.type_name());
    if (const json* version = reader.optional_member(root, "version")) dataset.version = reader.string(*version, "version");
    data = &reader.array_member(root, "(top level)", "data");
    // The first entry decides the layout; every entry is then read as that layout.
    if (!data->empty()) {
      const json& first = (*data)[0];
      if (!first.is_object()) reader.fail("data[0]", std::string("expected an object, got ") + first.type_name());
      if (first.contains("paragraphs")) {
        dataset.format = DatasetFormat::squad;
      } else if (first.contains("qas")) {
        dataset.format = DatasetFormat::korquad2;
      } else {
        reader.fail("data[0]", "has neither \"paragraphs\" (SQuAD/KorQuAD 1.0) nor \"qas\" (KorQuAD 2.x)");
      }
    }
  }
  dataset_reader articles(reader, options, dataset);
  for (size_t i = 0; i < data->size(); ++i) {
    const std::string path = "data[" + std::to_string(i) + "]";
    if (dataset.format == DatasetFormat::squad) {
      articles.squad_article((*data)[i], i, path);
    } else {
      articles.korquad2_document((*data)[i], i, path);
    }
  }
  return dataset;
}

QaDataset read_qa_dataset(const std::filesystem::path& path, const QaReadOptions& options) {
  if (!std::filesystem::is_directory(path)) return parse_qa_dataset(read_file(path), path.string(), options);
  // Like evaluate-2.0.py: every file whose name ends in "json", data lists concatenated.
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    const std::string name = entry.path().filename().string();
    if (name.size() >= 4 && name.compare(name.size() - 4, 4, "json") == 0) files.push_back(entry.path());
  }
  if (files.empty()) throw std::runtime_error(path.string() + ": no files ending in \"json\"");
  std::sort(files.begin(), files.end());
  QaDataset merged;
  size_t article_offset = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    QaDataset part = parse_qa_dataset(read_file(files[i]), files[i].string(), options);
    if (i == 0) {
      merged.format = part.format;
      merged.version = part.version;
    } else if (part.format != merged.format && !part.questions.empty()) {
      throw std::runtime_error(files[i].string() + ": " + to_string(part.format) + " layout, but " +
                               files[0].string() + " is " + to_string(merged.format));
    }
    size_t articles = 0;
    for (const QaDocument& document : part.documents) articles = std::max(articles, document.article_index + 1);
    append_dataset(merged, std::move(part), article_offset);
    article_offset += articles;
  }
  return merged;
}

ArticleText article_text(const QaDataset& dataset, std::size_t article_index) {
  struct by_article {
    bool operator()(const QaDocument& d, std::size_t a) const { return d.article_index < a; }
    bool operator()(std::size_t a, const QaDocument& d) const { return a < d.article_index; }
  };
  const auto [first, last] =
      std::equal_range(dataset.documents.begin(), dataset.documents.end(), article_index, by_article{});
  ArticleText article;
  article.first_document = static_cast<std::size_t>(first - dataset.documents.begin());
  if (first == last) return article;
  article.id = first->article_id;
  article.title = first->title;
  for (auto it = first; it != last; ++it) {
    if (!article.text.empty()) article.text += "\n\n";
    article.paragraph_starts.push_back(article.text.size());
    article.text += it->context;
  }
  return article;
}

PredictionMap parse_predictions(std::string_view json_text, const std::string& source) {
  const json root = parse_json(json_text, source);
  const json_reader reader(source);
  if (!root.is_object()) reader.fail("(top level)", std::string("expected an object, got ") + root.type_name());
  PredictionMap predictions;
  for (const auto& [id, value] : root.items()) predictions.emplace(id, reader.string(value, "\"" + id + "\""));
  return predictions;
}

PredictionMap read_predictions(const std::filesystem::path& path) {
  return parse_predictions(read_file(path), path.string());
}

std::string dump_predictions(const PredictionMap& predictions) {
  json root = json::object();
  for (const auto& [id, text] : predictions) {
    // nlohmann would refuse invalid UTF-8 later, without saying where.
    detail::decode_utf8(id, "question id");
    detail::decode_utf8(text, "prediction for question " + id);
    root[id] = text;
  }
  return root.dump(-1, ' ', false) + "\n";
}

void write_predictions(const std::filesystem::path& path, const PredictionMap& predictions) {
  const std::string text = dump_predictions(predictions);
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error(path.string() + ": cannot open for writing");
  out << text;
  out.close();
  if (!out) throw std::runtime_error(path.string() + ": write error");
}

ArticleRange parse_article_range(std::string_view spec) {
  if (spec.empty()) return {};
  const auto colon = spec.find(':');
  auto number = [&](std::string_view part, std::size_t fallback) -> std::size_t {
    if (part.empty()) return fallback;
    std::size_t value = 0;
    for (char c : part) {
      if (c < '0' || c > '9') throw std::invalid_argument("article range must look like BEGIN:END, got '" + std::string(spec) + "'");
      value = value * 10 + static_cast<std::size_t>(c - '0');
    }
    return value;
  };
  if (colon == std::string_view::npos) throw std::invalid_argument("article range must look like BEGIN:END, got '" + std::string(spec) + "'");
  const ArticleRange range{number(spec.substr(0, colon), 0), number(spec.substr(colon + 1), SIZE_MAX)};
  if (range.begin >= range.end) throw std::invalid_argument("article range '" + std::string(spec) + "' is empty");
  return range;
}

QaDataset select_articles(QaDataset data, ArticleRange range) {
  std::vector<QaQuestion> kept;
  for (auto& q : data.questions) {
    const std::size_t article = data.documents[q.document_index].article_index;
    if (article >= range.begin && article < range.end) kept.push_back(std::move(q));
  }
  data.questions = std::move(kept);
  return data;
}

}  // namespace longqa::eval
