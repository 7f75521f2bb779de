// Corpus ingestion: JSONL records, text/markdown files, SQuAD/KorQuAD JSON and HTML
// into Documents; HTML to readable text with offsets back into the HTML; passage windows.
#include "longqa/corpus.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "longqa/tokenizer.h"

namespace longqa::retriever {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxTitleBytes = 256;  // a first line can be a whole paragraph

std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

bool is_html_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Byte offset of the first ill-formed UTF-8 sequence, or npos.
size_t invalid_utf8_at(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Utf8Char c = decode_utf8(s, i);
    if (!c.valid) return i;
    i += c.length;
  }
  return std::string_view::npos;
}

// At most max_bytes of s, cut at a UTF-8 char boundary.
std::string truncate_utf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end));
}

// ---------------------------------------------------------------------------------------
// HTML entities

// Latin-1 supplement U+00A0..U+00FF in order, then the rest of HTML 4's list that text uses.
constexpr std::array<const char*, 96> kLatin1Entities = {
    "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",    "copy",   "ordf",
    "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn", "sup2",   "sup3",   "acute",  "micro",
    "para",   "middot", "cedil",  "sup1",   "ordm",   "raquo",  "frac14", "frac12", "frac34", "iquest", "Agrave",
    "Aacute", "Acirc",  "Atilde", "Auml",   "Aring",  "AElig",  "Ccedil", "Egrave", "Eacute", "Ecirc",  "Euml",
    "Igrave", "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde", "Ouml",
    "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",  "szlig",  "agrave", "aacute",
    "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil", "egrave", "eacute", "ecirc",  "euml",   "igrave",
    "iacute", "icirc",  "iuml",   "eth",    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide",
    "oslash", "ugrave", "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};

const std::unordered_map<std::string, char32_t>& entity_table() {
  static const auto table = [] {
    std::unordered_map<std::string, char32_t> t = {
        {"quot", 34},     {"amp", 38},      {"apos", 39},     {"lt", 60},       {"gt", 62},       {"OElig", 338},
        {"oelig", 339},   {"Scaron", 352},  {"scaron", 353},  {"Yuml", 376},    {"fnof", 402},    {"circ", 710},
        {"tilde", 732},   {"ensp", 8194},   {"emsp", 8195},   {"thinsp", 8201}, {"zwnj", 8204},   {"zwj", 8205},
        {"lrm", 8206},    {"rlm", 8207},    {"ndash", 8211},  {"mdash", 8212},  {"lsquo", 8216},  {"rsquo", 8217},
        {"sbquo", 8218},  {"ldquo", 8220},  {"rdquo", 8221},  {"bdquo", 8222},  {"dagger", 8224}, {"Dagger", 8225},
        {"bull", 8226},   {"hellip", 8230}, {"permil", 8240}, {"prime", 8242},  {"Prime", 8243},  {"lsaquo", 8249},
        {"rsaquo", 8250}, {"oline", 8254},  {"frasl", 8260},  {"euro", 8364},   {"trade", 8482},  {"larr", 8592},
        {"uarr", 8593},   {"rarr", 8594},   {"darr", 8595},   {"harr", 8596},   {"minus", 8722},  {"infin", 8734},
        {"asymp", 8776},  {"ne", 8800},     {"le", 8804},     {"ge", 8805},     {"sdot", 8901},   {"loz", 9674}};
    for (size_t i = 0; i < kLatin1Entities.size(); ++i) t[kLatin1Entities[i]] = static_cast<char32_t>(0xA0 + i);
    // Greek letters: capitals U+0391..U+03A9 (no U+03A2), small U+03B1..U+03C9 (final sigma at U+03C2).
    const char* greek[] = {"alpha", "beta", "gamma", "delta",   "epsilon", "zeta", "eta",     "theta",
                           "iota",  "kappa", "lambda", "mu",    "nu",      "xi",   "omicron", "pi",
                           "rho",   "sigmaf", "sigma", "tau",   "upsilon", "phi",  "chi",     "psi", "omega"};
    for (size_t i = 0; i < std::size(greek); ++i) {
      std::string name = greek[i];
      t[name] = static_cast<char32_t>(0x3B1 + i);
      if (name != "sigmaf") {
        name[0] = static_cast<char>(name[0] - 'a' + 'A');
        t[name] = static_cast<char32_t>(0x391 + i);
      }
    }
    return t;
  }();
  return table;
}

struct Entity {
  char32_t cp;
  size_t length;  // bytes of "&...;" in the HTML; 0 when html[pos] starts no entity
};

// Named entities need their ';' (as in HTML5 outside its legacy list); numeric ones may omit it.
Entity decode_entity(const std::string& html, size_t pos) {
  size_t i = pos + 1;
  if (i < html.size() && html[i] == '#') {
    ++i;
    const bool hex = i < html.size() && (html[i] == 'x' || html[i] == 'X');
    if (hex) ++i;
    const size_t digits_begin = i;
    uint32_t value = 0;
    for (; i < html.size(); ++i) {
      const char c = html[i];
      int digit = -1;
      if (c >= '0' && c <= '9') digit = c - '0';
      else if (hex && c >= 'a' && c <= 'f') digit = c - 'a' + 10;
      else if (hex && c >= 'A' && c <= 'F') digit = c - 'A' + 10;
      if (digit < 0) break;
      value = std::min<uint32_t>(value * (hex ? 16 : 10) + static_cast<uint32_t>(digit), 0x110000);
    }
    if (i == digits_begin) return {0, 0};
    if (i < html.size() && html[i] == ';') ++i;
    const bool bad = value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF);
    return {bad ? kReplacementChar : static_cast<char32_t>(value), i - pos};
  }
  while (i < html.size() && i - pos <= 32 && std::isalnum(static_cast<unsigned char>(html[i]))) ++i;
  if (i == pos + 1 || i >= html.size() || html[i] != ';') return {0, 0};
  const auto& table = entity_table();
  const auto it = table.find(html.substr(pos + 1, i - pos - 1));
  if (it == table.end()) return {0, 0};
  return {it->second, i + 1 - pos};
}

// ---------------------------------------------------------------------------------------
// HTML -> text

const std::set<std::string>& block_elements() {
  static const std::set<std::string> names = {
      "address", "article", "aside",  "blockquote", "body",   "caption", "center", "dd",   "details", "dialog",
      "dl",      "dt",      "div",    "fieldset",   "figcaption", "figure", "footer", "form", "h1", "h2",
      "h3",      "h4",      "h5",     "h6",         "header", "hgroup",  "hr",     "html", "legend",  "main",
      "nav",     "option",  "p",      "section",    "summary", "tbody",  "tfoot",  "thead"};
  return names;
}

// Elements whose content is not text a reader should see.
bool skipped_element(const std::string& name) {
  return name == "script" || name == "style" || name == "title" || name == "noscript" || name == "template";
}

class HtmlConverter {
 public:
  explicit HtmlConverter(const std::string& html) : html_(html), lower_(ascii_lower(html)) {}

  HtmlText run() {
    size_t pos = html_.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // a byte-order mark is not text
    while (pos < html_.size()) {
      const size_t lt = html_.find('<', pos);
      const size_t end = lt == std::string::npos ? html_.size() : lt;
      character_data(pos, end);
      pos = end < html_.size() ? markup(end) : end;
    }
    out_.html_offsets.push_back(last_source_end_);
    return std::move(out_);
  }

 private:
  struct TableState {
    int64_t cells = 0;  // cells seen in the current row
    bool in_cell = false;
  };

  // Text between tags: whitespace collapses (except in <pre>), entities decode.
  void character_data(size_t begin, size_t end) {
    size_t run = begin;  // start of bytes copied verbatim
    auto copy_run = [&](size_t upto) {
      if (upto > run) emit_copied(run, upto);
    };
    for (size_t i = begin; i < end;) {
      const char c = html_[i];
      if (c == '&') {
        const Entity e = decode_entity(html_, i);
        if (e.length == 0) {
          ++i;
          continue;
        }
        copy_run(i);
        if (e.cp == 0xA0 && pre_depth_ == 0) {
          space(i);  // &nbsp; separates words like a space
        } else {
          std::string bytes;
          append_utf8(bytes, e.cp);
          emit(bytes, i, i + e.length);
        }
        i += e.length;
        run = i;
      } else if (is_html_space(c) && pre_depth_ == 0) {
        copy_run(i);
        space(i);
        while (i < end && is_html_space(html_[i])) ++i;
        run = i;
      } else {
        ++i;
      }
    }
    copy_run(end);
  }

  // Markup at html_[lt] == '<'; returns the position after it.
  size_t markup(size_t lt) {
    const size_t n = html_.size();
    auto after = [&](const char* terminator, size_t from) {
      const size_t at = html_.find(terminator, from);
      return at == std::string::npos ? n : at + std::strlen(terminator);
    };
    if (html_.compare(lt, 4, "<!--") == 0) return after("-->", lt + 4);
    if (lt + 1 < n && (html_[lt + 1] == '!' || html_[lt + 1] == '?')) return after(">", lt + 2);
    const bool closing = lt + 1 < n && html_[lt + 1] == '/';
    size_t i = lt + (closing ? 2 : 1);
    if (i >= n || !std::isalpha(static_cast<unsigned char>(html_[i]))) {
      emit_copied(lt, lt + 1);  // a lone '<' is text
      return lt + 1;
    }
    const size_t name_begin = i;
    while (i < n && (std::isalnum(static_cast<unsigned char>(html_[i])) || html_[i] == '-' || html_[i] == ':')) ++i;
    const std::string name = lower_.substr(name_begin, i - name_begin);
    // Attributes: the tag ends at the first '>' outside quotes.
    char quote = 0;
    for (; i < n; ++i) {
      if (quote) {
        if (html_[i] == quote) quote = 0;
      } else if (html_[i] == '"' || html_[i] == '\'') {
        quote = html_[i];
      } else if (html_[i] == '>') {
        break;
      }
    }
    const bool self_closing = i < n && i > lt && html_[i - 1] == '/';
    const size_t end = std::min(i + 1, n);
    if (closing) {
      end_tag(name, static_cast<int64_t>(lt));
      return end;
    }
    if (skipped_element(name)) {
      if (self_closing) return end;
      const size_t close = lower_.find("</" + name, end);
      return close == std::string::npos ? n : after(">", close);
    }
    start_tag(name, static_cast<int64_t>(lt));
    return end;
  }

  void start_tag(const std::string& name, int64_t at) {
    if (name == "br") {
      line_break(at);
    } else if (name == "li") {
      line_break(at);
      if (!in_cell()) {
        prefix_ = std::string(2 * static_cast<size_t>(std::max<int64_t>(list_depth_ - 1, 0)), ' ') + "- ";
        prefix_at_ = at;
      }
    } else if (name == "ul" || name == "ol" || name == "menu" || name == "dir") {
      ++list_depth_;
      line_break(at);
    } else if (name == "table") {
      line_break(at);
      tables_.emplace_back();
    } else if (name == "tr") {
      row_boundary(at);
    } else if (name == "td" || name == "th") {
      if (tables_.empty()) tables_.emplace_back();  // a cell outside any table
      TableState& table = tables_.back();
      table.in_cell = false;
      if (table.cells > 0) cell_separator(at);
      ++table.cells;
      table.in_cell = true;
    } else if (name == "pre") {
      line_break(at);
      ++pre_depth_;
    } else if (block_elements().count(name)) {
      line_break(at);
    }
  }

  void end_tag(const std::string& name, int64_t at) {
    if (name == "br") {
      line_break(at);  // browsers read </br> as <br>
    } else if (name == "li") {
      line_break(at);
      prefix_.clear();
    } else if (name == "ul" || name == "ol" || name == "menu" || name == "dir") {
      list_depth_ = std::max<int64_t>(list_depth_ - 1, 0);
      line_break(at);
      prefix_.clear();
    } else if (name == "table") {
      if (!tables_.empty()) tables_.pop_back();
      line_break(at);
    } else if (name == "tr") {
      row_boundary(at);
    } else if (name == "td" || name == "th") {
      if (!tables_.empty()) tables_.back().in_cell = false;
    } else if (name == "pre") {
      pre_depth_ = std::max<int64_t>(pre_depth_ - 1, 0);
      line_break(at);
    } else if (block_elements().count(name)) {
      line_break(at);
    }
  }

  void row_boundary(int64_t at) {
    if (tables_.empty()) tables_.emplace_back();
    tables_.back().in_cell = false;
    tables_.back().cells = 0;
    line_break(at);
  }

  bool in_cell() const {
    return std::any_of(tables_.begin(), tables_.end(), [](const TableState& t) { return t.in_cell; });
  }

  // Separators wait until the next text, so none leads, trails or repeats; each keeps the
  // offset of the markup (or whitespace) that caused it. A line break beats a cell
  // separator, which beats a space.
  void line_break(int64_t at) {
    if (in_cell()) {
      space(at);  // a table row stays on one line
    } else if (line_at_ < 0) {
      line_at_ = at;
    }
  }
  void cell_separator(int64_t at) {
    if (cell_at_ < 0) cell_at_ = at;
  }
  void space(int64_t at) {
    if (space_at_ < 0) space_at_ = at;
  }

  void put(std::string_view bytes, int64_t at) {
    out_.text.append(bytes);
    out_.html_offsets.insert(out_.html_offsets.end(), bytes.size(), at);
  }

  void flush_separators() {
    const auto at_line_start = [&] { return out_.text.empty() || out_.text.back() == '\n'; };
    if (line_at_ >= 0 && !at_line_start()) put("\n", line_at_);
    if (!prefix_.empty() && at_line_start()) {
      put(prefix_, prefix_at_);
      prefix_.clear();
    } else if (cell_at_ >= 0 && !at_line_start()) {
      put(" | ", cell_at_);
    } else if (space_at_ >= 0 && !at_line_start()) {
      put(" ", space_at_);
    }
    line_at_ = cell_at_ = space_at_ = -1;
  }

  // Text decoded from html_[source, source_end) (an entity): every byte maps to its start.
  void emit(std::string_view bytes, size_t source, size_t source_end) {
    flush_separators();
    put(bytes, static_cast<int64_t>(source));
    last_source_end_ = static_cast<int64_t>(source_end);
  }

  // html_[begin, end) copied verbatim: each byte maps to itself.
  void emit_copied(size_t begin, size_t end) {
    flush_separators();
    out_.text.append(html_, begin, end - begin);
    for (size_t i = begin; i < end; ++i) out_.html_offsets.push_back(static_cast<int64_t>(i));
    last_source_end_ = static_cast<int64_t>(end);
  }

  const std::string& html_;
  const std::string lower_;  // ASCII-lowercased copy for tag names and closing-tag searches
  HtmlText out_;
  int64_t last_source_end_ = 0;
  int64_t line_at_ = -1, cell_at_ = -1, space_at_ = -1;  // pending separators (-1: none)
  std::string prefix_;                                  // pending list-item prefix
  int64_t prefix_at_ = 0;
  int64_t list_depth_ = 0, pre_depth_ = 0;
  std::vector<TableState> tables_;
};

// ---------------------------------------------------------------------------------------
// Files

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string json_message(const json::exception& e) {
  std::string what = e.what();
  const size_t bracket = what.find("] ");
  return what.rfind("[json.exception.", 0) == 0 && bracket != std::string::npos ? what.substr(bracket + 2) : what;
}

int64_t line_of(const std::string& text, size_t offset) {
  return 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(std::min(offset, text.size())), '\n');
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
  const std::string lower = ascii_lower(html);
  const size_t open = lower.find("<title");
  const size_t content = open == std::string::npos ? open : lower.find('>', open);
  const size_t close = content == std::string::npos ? content : lower.find("</title", content);
  if (close != std::string::npos) {
    const std::string title = html_to_text(html.substr(content + 1, close - content - 1)).text;
    if (!title.empty()) return truncate_utf8(title, kMaxTitleBytes);
  }
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
      } catch (const json::parse_error& e) {
        error(source, "invalid JSON: " + json_message(e));
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
    HtmlText converted = html_to_text(content);
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

  void json_file(const std::string& path, const std::string& stem, const std::string& content) {
    if (!check_utf8(path, content)) return;
    json root;
    try {
      root = json::parse(content);
    } catch (const json::parse_error& e) {
      error(path + ":" + std::to_string(line_of(content, e.byte > 0 ? e.byte - 1 : 0)),
            "invalid JSON: " + json_message(e));
      return;
    }
    // The layout is decided by the first article: SQuAD/KorQuAD 1.0 articles hold
    // paragraphs[].context; KorQuAD 2.x articles hold one HTML context each.
    const json* data = root.is_object() && root.contains("data") && root["data"].is_array() ? &root["data"] : nullptr;
    const json* first = data && !data->empty() && (*data)[0].is_object() ? &(*data)[0] : nullptr;
    if (first && first->contains("paragraphs")) {
      squad(path, stem, *data);
    } else if (first && first->contains("context")) {
      korquad2(path, stem, *data);
    } else {
      error(path,
            "unrecognised JSON layout: expected SQuAD/KorQuAD 1.0 {\"data\": [{\"title\", \"paragraphs\": "
            "[{\"context\"}]}]} or KorQuAD 2.x {\"data\": [{\"title\", \"url\", \"context\"}]} (for one "
            "record per line, use .jsonl)");
    }
  }

  // Article titles name documents; a repeated or missing title gets the article index too.
  static std::string article_key(const json& article, const std::string& stem, size_t index,
                                 std::set<std::string>& seen) {
    const auto it = article.find("title");
    std::string title = it != article.end() && it->is_string() ? it->get<std::string>() : "";
    if (title.empty()) title = stem;
    if (!seen.insert(title).second || title == stem) title += "#a" + std::to_string(index);
    return title;
  }

  static std::string string_field(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : "";
  }

  void squad(const std::string& path, const std::string& stem, const json& data) {
    std::set<std::string> seen;
    for (size_t a = 0; a < data.size(); ++a) {
      const json& article = data[a];
      const std::string where = path + "#data[" + std::to_string(a) + "]";
      if (!article.is_object() || !article.contains("paragraphs") || !article["paragraphs"].is_array()) {
        error(where, "article has no 'paragraphs' array");
        continue;
      }
      const std::string key = article_key(article, stem, a, seen);
      const std::string title = string_field(article, "title");
      Document whole;  // SquadUnit::kArticle
      json starts = json::array();
      const json& paragraphs = article["paragraphs"];
      for (size_t p = 0; p < paragraphs.size(); ++p) {
        const json& paragraph = paragraphs[p];
        const auto context = paragraph.is_object() ? paragraph.find("context") : paragraph.end();
        if (!paragraph.is_object() || context == paragraph.end() || !context->is_string() ||
            trim(context->get_ref<const std::string&>()).empty()) {
          error(where + ".paragraphs[" + std::to_string(p) + "]", "paragraph has no non-empty string 'context'");
          continue;
        }
        const std::string& text = context->get_ref<const std::string&>();
        if (options_.squad_unit == SquadUnit::kArticle) {
          if (!whole.text.empty()) whole.text += "\n\n";
          starts.push_back(whole.text.size());
          whole.text += text;
          continue;
        }
        Document doc;
        doc.id = key + "#p" + std::to_string(p);
        doc.title = title;
        doc.text = text;
        doc.metadata_json = json{{"article", a}, {"paragraph", p}}.dump();
        doc.source = path + "#" + std::to_string(a) + "/" + std::to_string(p);
        sink_(std::move(doc));
      }
      if (options_.squad_unit == SquadUnit::kArticle && !whole.text.empty()) {
        whole.id = key;
        whole.title = title;
        // Byte offset of each paragraph in the text (skipped paragraphs have none).
        whole.metadata_json = json{{"article", a}, {"paragraph_starts", starts}}.dump();
        whole.source = path + "#" + std::to_string(a);
        sink_(std::move(whole));
      }
    }
  }

  void korquad2(const std::string& path, const std::string& stem, const json& data) {
    std::set<std::string> seen;
    for (size_t a = 0; a < data.size(); ++a) {
      const json& article = data[a];
      const std::string where = path + "#data[" + std::to_string(a) + "]";
      const auto context = article.is_object() ? article.find("context") : article.end();
      if (!article.is_object() || context == article.end() || !context->is_string()) {
        error(where, "document has no string 'context' (HTML)");
        continue;
      }
      HtmlText converted = html_to_text(context->get_ref<const std::string&>());
      if (converted.text.empty()) {
        error(where, "no text in the HTML 'context'");
        continue;
      }
      Document doc;
      doc.id = article_key(article, stem, a, seen);
      doc.title = string_field(article, "title");
      doc.text = std::move(converted.text);
      doc.html_offsets = std::move(converted.html_offsets);
      json metadata = json::object();
      if (article.contains("url") && article["url"].is_string()) metadata["url"] = article["url"];
      doc.metadata_json = metadata.dump();
      doc.source = path + "#" + std::to_string(a);
      sink_(std::move(doc));
    }
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

HtmlText html_to_text(const std::string& html) { return HtmlConverter(html).run(); }

std::vector<Passage> split_passages(const std::vector<std::pair<int64_t, int64_t>>& token_bytes, int64_t window_tokens,
                                    int64_t overlap_tokens) {
  if (window_tokens <= 0 || overlap_tokens < 0 || overlap_tokens >= window_tokens)
    throw std::invalid_argument("split_passages: need window_tokens > 0 and 0 <= overlap_tokens < window_tokens, got " +
                                std::to_string(window_tokens) + " and " + std::to_string(overlap_tokens));
  std::vector<Passage> passages;
  const int64_t n = static_cast<int64_t>(token_bytes.size());
  for (int64_t start = 0; start < n; start += window_tokens - overlap_tokens) {
    const int64_t last = std::min(start + window_tokens, n) - 1;
    passages.push_back({static_cast<int64_t>(passages.size()), token_bytes[start].first, token_bytes[last].second});
    if (last == n - 1) break;
  }
  return passages;
}

}  // namespace longqa::retriever
