// Export and import of a store's documents, passages and vectors (longqa/store.h): the
// migration path between the embedded store and PostgreSQL.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "longqa/common/atomic_file.h"
#include "longqa/common/errors.h"
#include "longqa/store.h"
#include "longqa/text_encoder.h"

namespace longqa::retriever {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFormat = "longqa-export";
constexpr int kFormatVersion = 1;
constexpr int64_t kPage = 256;  // documents read per page while exporting

json document_json(const Document& doc, const std::vector<StoredPassage>& passages) {
  json ranges = json::array();
  for (const StoredPassage& p : passages) ranges.push_back({p.begin, p.end});
  json metadata = json::parse(doc.metadata_json.empty() ? "{}" : doc.metadata_json, nullptr, false);
  if (metadata.is_discarded()) metadata = json::object();
  return {{"id", doc.id},         {"title", doc.title},   {"text", doc.text},
          {"metadata", metadata}, {"source", doc.source}, {"html_offsets", doc.html_offsets},
          {"passages", ranges}};
}

DocumentPassages document_of(const json& j, const std::string& where) {
  DocumentPassages item;
  Document& d = item.document;
  try {
    d.id = j.at("id").get<std::string>();
    d.title = j.at("title").get<std::string>();
    d.text = j.at("text").get<std::string>();
    d.metadata_json = j.at("metadata").dump();
    d.source = j.at("source").get<std::string>();
    d.html_offsets = j.at("html_offsets").get<std::vector<int64_t>>();
    int64_t index = 0;
    for (const json& r : j.at("passages")) {
      const int64_t begin = r.at(0).get<int64_t>(), end = r.at(1).get<int64_t>();
      if (begin < 0 || end < begin || end > static_cast<int64_t>(d.text.size()))
        throw std::out_of_range("passage [" + std::to_string(begin) + ", " + std::to_string(end) +
                                ") outside the text");
      item.passages.push_back({index++, begin, end});
    }
  } catch (const std::exception& e) {
    throw FileFormatError(where, e.what());
  }
  return item;
}

}  // namespace

ExportSummary export_store(const Store& store, const std::string& dir, const TransferProgress& progress) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) throw std::invalid_argument(dir + ": not empty");
  fs::create_directories(dir);
  const StoreInfo info = store.info();
  const int64_t d = info.dimension;
  AtomicFile documents((fs::path(dir) / "documents.jsonl").string());
  AtomicFile vectors((fs::path(dir) / "vectors.f32").string());
  ExportSummary summary;
  summary.vectors = true;
  std::string after;
  for (;;) {
    const std::vector<std::string> ids = store.document_ids(after, kPage);
    if (ids.empty()) break;
    after = ids.back();
    for (const std::string& id : ids) {
      const std::optional<Document> doc = store.document(id);
      if (!doc) continue;  // deleted meanwhile
      const std::vector<StoredPassage> passages = store.document_passages(id, false);
      std::vector<int64_t> passage_ids;
      for (const StoredPassage& p : passages) passage_ids.push_back(p.id);
      if (summary.vectors && !passage_ids.empty()) {
        const std::vector<float> rows = store.passage_vectors(passage_ids);
        if (rows.empty()) {
          summary.vectors = false;  // a compressed index: the import re-encodes
        } else {
          vectors.write(rows.data(), rows.size() * sizeof(float));
        }
      }
      documents.write(document_json(*doc, passages).dump() + "\n");
      ++summary.documents;
      summary.passages += static_cast<int64_t>(passages.size());
    }
    if (progress) progress(summary.documents, summary.passages);
  }
  documents.commit();
  if (summary.vectors) vectors.commit();  // else the temporary file is dropped
  const json header = {{"format", kFormat},
                       {"format_version", kFormatVersion},
                       {"backend", info.backend},
                       {"location", info.location},
                       {"encoder_id", info.encoder_id},
                       {"encoder_path", info.encoder_path},
                       {"dimension", d},
                       {"bm25", to_string(info.options.bm25)},
                       {"passage_tokens", info.options.passage_tokens},
                       {"passage_overlap", info.options.passage_overlap},
                       {"documents", summary.documents},
                       {"passages", summary.passages},
                       {"vectors", summary.vectors}};
  write_file_atomic((fs::path(dir) / "export.json").string(), header.dump(2) + "\n");
  return summary;
}

ExportHeader read_export_header(const std::string& dir) {
  const std::string path = (fs::path(dir) / "export.json").string();
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(path + ": missing (not an export folder, or an export that did not finish)");
  const json j = json::parse(in, nullptr, false);
  try {
    if (j.is_discarded() || j.at("format") != kFormat) throw std::runtime_error("not a longqa export");
    if (j.at("format_version") != kFormatVersion) throw std::runtime_error("export format version " + j.at("format_version").dump());
    ExportHeader h;
    h.encoder_id = j.at("encoder_id").get<std::string>();
    h.encoder_path = j.at("encoder_path").get<std::string>();
    h.dimension = j.at("dimension").get<int64_t>();
    h.options.bm25 = parse_bm25_tokenization(j.at("bm25").get<std::string>());
    h.options.passage_tokens = j.at("passage_tokens").get<int64_t>();
    h.options.passage_overlap = j.at("passage_overlap").get<int64_t>();
    h.options.encoder_path = h.encoder_path;
    h.documents = j.at("documents").get<int64_t>();
    h.passages = j.at("passages").get<int64_t>();
    h.vectors = j.at("vectors").get<bool>();
    return h;
  } catch (const std::exception& e) {
    throw FileFormatError(path, e.what());
  }
}

ImportSummary import_store(Store& store, const std::string& dir, int64_t batch, const TransferProgress& progress) {
  if (batch <= 0) throw std::invalid_argument("import: batch must be positive");
  const ExportHeader header = read_export_header(dir);
  const StoreInfo info = store.info();
  const bool same_passages = header.options.passage_tokens == info.options.passage_tokens &&
                             header.options.passage_overlap == info.options.passage_overlap;
  ImportSummary summary;
  summary.reencoded = !(header.vectors && same_passages && header.encoder_id == info.encoder_id &&
                        header.dimension == info.dimension);
  const std::string documents_path = (fs::path(dir) / "documents.jsonl").string();
  std::ifstream documents(documents_path);
  if (!documents) throw std::invalid_argument(documents_path + ": cannot be read");
  std::ifstream vectors;
  const int64_t d = header.dimension;
  if (!summary.reencoded) {
    const std::string vectors_path = (fs::path(dir) / "vectors.f32").string();
    vectors.open(vectors_path, std::ios::binary);
    std::error_code ec;
    const auto bytes = fs::file_size(vectors_path, ec);
    if (!vectors || ec || bytes != static_cast<uintmax_t>(header.passages * d) * sizeof(float))
      throw FileFormatError(vectors_path, "expected " + std::to_string(header.passages) + " vectors of " +
                                              std::to_string(d) + " floats");
  }
  std::vector<DocumentPassages> items;
  std::vector<float> rows;
  auto flush = [&] {
    if (items.empty()) return;
    const int64_t documents = static_cast<int64_t>(items.size());
    int64_t passages = 0;
    for (const auto& item : items) passages += static_cast<int64_t>(item.passages.size());
    if (summary.reencoded) {
      std::vector<Document> docs;
      for (auto& item : items) docs.push_back(std::move(item.document));
      passages = store.add(std::move(docs)).passages;
    } else {
      store.add_encoded(std::move(items), rows.data());
    }
    summary.documents += documents;
    summary.passages += passages;
    items.clear();
    rows.clear();
    if (progress) progress(summary.documents, summary.passages);
  };
  std::string line;
  for (int64_t number = 1; std::getline(documents, line); ++number) {
    if (line.empty()) continue;
    const std::string where = documents_path + ":" + std::to_string(number);
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) throw FileFormatError(where, "not JSON");
    DocumentPassages item = document_of(j, where);
    if (!summary.reencoded) {
      const size_t n = item.passages.size() * static_cast<size_t>(d);
      const size_t at = rows.size();
      rows.resize(at + n);
      if (n > 0 && !vectors.read(reinterpret_cast<char*>(rows.data() + at), static_cast<std::streamsize>(n * sizeof(float))))
        throw FileFormatError(where, "vectors.f32 ends before this document's passages");
    }
    items.push_back(std::move(item));
    if (static_cast<int64_t>(items.size()) >= batch) flush();
  }
  flush();
  store.commit();
  if (summary.documents != header.documents)
    throw FileFormatError(documents_path, "holds " + std::to_string(summary.documents) + " documents, export.json says " +
                                              std::to_string(header.documents));
  return summary;
}

}  // namespace longqa::retriever
