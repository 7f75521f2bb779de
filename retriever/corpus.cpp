// Corpus ingestion: walks files and folders and reads each file by its format: JSONL
// records, text/markdown files, HTML pages (retriever/html_text.cpp), SQuAD/KorQuAD JSON
// (retriever/qa_corpus.cpp). Passage windows are in retriever/passages.cpp.
#include "longqa/corpus.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "longqa/common/errors.h"
#include "ingest_detail.h"
#include "longqa/common/utf8.h"

namespace longqa::retriever {
namespace {

namespace fs = std::filesystem;
using detail::ascii_lower;
using detail::line_of;
using nlohmann::json;

constexpr size_t kMaxTitleBytes = 256;  // a first line can be a whole paragraph

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// The first ATX heading ("# Title") outside code fences, else the first non-empty line.
std::string text_title(const std::string& text, bool markdown) {
  std::string first_line;
  bool in_fence = false;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const std::string_view t = trim(line);
    if (t.empty()) continue;
    if (first_line.empty()) first_line = std::string(t);
    if (!markdown) break;
    if (t.rfind("```", 0) == 0 || t.rfind("~~~", 0) == 0) {
      in_fence = !in_fence;
      continue;
    }
    const size_t hashes = t.find_first_not_of('#');
    if (in_fence || hashes == 0 || hashes > 6 || (t[hashes] != ' ' && t[hashes] != '\t')) continue;
    std::string_view heading = trim(t.substr(hashes));
    // An optional closing run of '#' after a space.
    const size_t closing = heading.find_last_not_of('#');
    if (closing != std::string_view::npos && closing + 1 < heading.size() &&
        (heading[closing] == ' ' || heading[closing] == '\t'))
      heading = trim(heading.substr(0, closing));
    if (!heading.empty()) return truncate_utf8(heading, kMaxTitleBytes);
  }
  return truncate_utf8(first_line, kMaxTitleBytes);
}

// <title> of an HTML page, else the first line of its text.
std::string html_title(const std::string& html, const std::string& text) {
  const std::string title = detail::html_title_text(html);
  if (!title.empty()) return truncate_utf8(title, kMaxTitleBytes);
  return text_title(text, false);
}

class Ingestor {
 public:
  Ingestor(const IngestOptions& options, const std::function<void(Document&&)>& sink,
           const std::function<void(const IngestError&)>& on_error)
      : options_(options), sink_(sink), on_error_(on_error) {
    for (const auto& e : options.extensions) extensions_.insert(ascii_lower(e));
  }

  void path(const std::string& arg) {
    const fs::path root(arg);
    std::error_code ec;
    if (fs::is_directory(root, ec)) {
      directory(root);
    } else if (fs::is_regular_file(root, ec)) {
      file(root, root.filename().generic_string());
    } else {
      error(arg, "no such file or directory");
    }
  }

 private:
  void error(std::string source, std::string message) {
    if (options_.fail_on_error || !on_error_) throw std::runtime_error(source + ": " + message);
    on_error_({std::move(source), std::move(message)});
  }

  // Files with a listed extension, recursively, sorted by relative path; hidden entries skipped.
  void directory(const fs::path& root) {
    std::vector<std::pair<std::string, fs::path>> files;
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (it->path().filename().string().rfind('.', 0) == 0) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file() && extensions_.count(ascii_lower(it->path().extension().string())))
        files.emplace_back(it->path().lexically_relative(root).generic_string(), it->path());
    }
    if (ec) error(root.string(), "cannot list: " + ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& [name, p] : files) file(p, name);
  }

  // `name`: the path relative to the folder given (or the file name): ids derive from it.
  void file(const fs::path& p, const std::string& name) {
    const std::string ext = ascii_lower(p.extension().string());
    const std::string path = p.string();
    std::error_code ec;
    std::string content(static_cast<size_t>(fs::file_size(p, ec)), '\0');
    std::ifstream in(p, std::ios::binary);
    if (ec || !in.read(content.data(), static_cast<std::streamsize>(content.size()))) {
      error(path, "cannot read: " + (ec ? ec.message() : std::string(std::strerror(errno))));
      return;
    }
    const std::string stem = fs::path(name).replace_extension().generic_string();
    if (ext == ".jsonl") {
      jsonl(path, stem, content);
    } else if (ext == ".json") {
      json_file(path, stem, content);
    } else if (ext == ".txt" || ext == ".md" || ext == ".markdown") {
      text_file(path, name, std::move(content), ext != ".txt");
    } else if (ext == ".html" || ext == ".htm") {
      html_file(path, name, content);
    } else {
      error(path, "unsupported file type '" + ext + "' (expected .jsonl, .json, .txt, .md, .markdown, .html, .htm)");
    }
  }

  // Reports invalid UTF-8 with its line; true when the text is valid.
  bool check_utf8(const std::string& path, const std::string& content) {
    const size_t bad = invalid_utf8_at(content);
    if (bad == std::string::npos) return true;
    error(path + ":" + std::to_string(line_of(content, bad)),
          "invalid UTF-8 at byte offset " + std::to_string(bad) + " of the file");
    return false;
  }

  void jsonl(const std::string& path, const std::string& stem, const std::string& content) {
    int64_t line_number = 0;
    for (size_t begin = 0; begin < content.size();) {
      size_t end = content.find('\n', begin);
      if (end == std::string::npos) end = content.size();
      ++line_number;
      std::string_view line(content.data() + begin, end - begin);
      begin = end + 1;
      if (line_number == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
      if (trim(line).empty()) continue;
      const std::string source = path + ":" + std::to_string(line_number);
      const size_t bad = invalid_utf8_at(line);
      if (bad != std::string_view::npos) {
        error(source, "invalid UTF-8 at column " + std::to_string(bad + 1));
        continue;
      }
      json record;
      try {
        record = json::parse(line.begin(), line.end());
      } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double
        error(source, "invalid JSON: " + json_error_text(e));
        continue;
      }
      std::string problem;
      Document doc = record_document(record, problem);
      if (!problem.empty()) {
        error(source, problem);
        continue;
      }
      if (doc.id.empty()) doc.id = stem + ":" + std::to_string(line_number);
      doc.source = source;
      sink_(std::move(doc));
    }
  }

  // A JSONL record {id?, title?, text, metadata?}; `problem` says what is wrong with it.
  static Document record_document(const json& record, std::string& problem) {
    Document doc;
    if (!record.is_object()) {
      problem = "expected a JSON object {\"id\", \"title\", \"text\", \"metadata\"}, got " + std::string(record.type_name());
      return doc;
    }
    const auto field = [&](const char* key) -> const json* {
      const auto it = record.find(key);
      return it == record.end() || it->is_null() ? nullptr : &*it;
    };
    const json* text = field("text");
    if (!text) {
      problem = "missing field 'text'";
    } else if (!text->is_string()) {
      problem = "field 'text' must be a string, got " + std::string(text->type_name());
    } else if (trim(text->get_ref<const std::string&>()).empty()) {
      problem = "field 'text' is empty";
    } else if (const json* id = field("id"); id && !id->is_string() && !id->is_number_integer()) {
      problem = "field 'id' must be a string or an integer, got " + std::string(id->type_name());
    } else if (id && id->is_string() && id->get_ref<const std::string&>().empty()) {
      problem = "field 'id' is empty";
    } else if (const json* title = field("title"); title && !title->is_string()) {
      problem = "field 'title' must be a string, got " + std::string(title->type_name());
    } else if (const json* metadata = field("metadata"); metadata && !metadata->is_object()) {
      problem = "field 'metadata' must be an object, got " + std::string(metadata->type_name());
    } else {
      doc.text = text->get<std::string>();
      if (id) doc.id = id->is_string() ? id->get<std::string>() : id->dump();
      if (title) doc.title = title->get<std::string>();
      doc.metadata_json = metadata ? metadata->dump() : "{}";
    }
    return doc;
  }

  void text_file(const std::string& path, const std::string& name, std::string content, bool markdown) {
    if (content.compare(0, 3, "\xEF\xBB\xBF") == 0) content.erase(0, 3);
    if (!check_utf8(path, content)) return;
    if (trim(content).empty()) {
      error(path, "empty document");
      return;
    }
    Document doc;
    doc.id = name;
    doc.title = text_title(content, markdown);
    doc.text = std::move(content);
    doc.metadata_json = "{}";
    doc.source = path;
    sink_(std::move(doc));
  }

  void html_file(const std::string& path, const std::string& name, const std::string& content) {
    if (!check_utf8(path, content)) return;
    HtmlText converted = html_to_readable_text(content);
    if (converted.text.empty()) {
      error(path, "no text in the HTML");
      return;
    }
    Document doc;
    doc.id = name;
    doc.title = html_title(content, converted.text);
    doc.text = std::move(converted.text);
    doc.html_offsets = std::move(converted.html_offsets);
    doc.metadata_json = "{}";
    doc.source = path;
    sink_(std::move(doc));
  }

  // SQuAD/KorQuAD 1.0 or KorQuAD 2.x, read as eval reads them (qa_corpus.cpp).
  void json_file(const std::string& path, const std::string& stem, const std::string& content) {
    if (!check_utf8(path, content)) return;
    detail::ingest_qa_json(path, stem, content, options_.squad_unit, sink_,
                           [&](std::string source, std::string message) { error(std::move(source), std::move(message)); });
  }

  const IngestOptions& options_;
  const std::function<void(Document&&)>& sink_;
  const std::function<void(const IngestError&)>& on_error_;
  std::set<std::string> extensions_;
};

}  // namespace

void ingest(const std::vector<std::string>& paths, const IngestOptions& options,
            const std::function<void(Document&&)>& sink, const std::function<void(const IngestError&)>& on_error) {
  Ingestor ingestor(options, sink, on_error);
  for (const auto& p : paths) ingestor.path(p);
}

}  // namespace longqa::retriever
