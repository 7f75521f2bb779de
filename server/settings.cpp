#include "settings.h"

#include <algorithm>
#include <cmath>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "longqa/common/parse_number.h"
#include "longqa/reader.h"

namespace longqa::server {
namespace {

std::string format_double(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// The common parsers, with the errors apply() puts the source and setting in front of.
int64_t parse_int(const std::string& text) {
  if (const auto v = parse_int64(text)) return *v;
  throw std::invalid_argument("expected an integer, got '" + text + "'");
}

double parse_number(const std::string& text) {
  if (const auto v = parse_double(text)) return *v;
  throw std::invalid_argument("expected a number, got '" + text + "'");
}

bool parse_flag(const std::string& text) {
  if (const auto v = parse_bool(text)) return *v;
  throw std::invalid_argument("expected true or false, got '" + text + "'");
}

SettingSpec int_setting(const char* name, int64_t ServerSettings::*member, const char* help) {
  return {name, help, false, [member](ServerSettings& s, const std::string& v) { s.*member = parse_int(v); },
          [member](const ServerSettings& s) { return std::to_string(s.*member); }};
}

SettingSpec double_setting(const char* name, double ServerSettings::*member, const char* help) {
  return {name, help, false, [member](ServerSettings& s, const std::string& v) { s.*member = parse_number(v); },
          [member](const ServerSettings& s) { return format_double(s.*member); }};
}

SettingSpec string_setting(const char* name, std::string ServerSettings::*member, const char* help) {
  return {name, help, false, [member](ServerSettings& s, const std::string& v) { s.*member = v; },
          [member](const ServerSettings& s) { return s.*member; }};
}

SettingSpec bool_setting(const char* name, bool ServerSettings::*member, const char* help) {
  return {name, help, true, [member](ServerSettings& s, const std::string& v) { s.*member = parse_flag(v); },
          [member](const ServerSettings& s) { return std::string(s.*member ? "true" : "false"); }};
}

// Applies one source's values; errors say which source and setting, in that source's spelling.
enum class Source { kFile, kEnvironment, kFlags };

void apply(ServerSettings& settings, const std::map<std::string, std::string>& values, Source source,
           const std::string& origin) {
  for (const auto& [name, value] : values) {
    const auto& specs = setting_specs();
    const std::string& setting = name;  // a structured binding cannot be captured (C++17)
    auto it = std::find_if(specs.begin(), specs.end(), [&](const SettingSpec& s) { return s.name == setting; });
    if (it == specs.end()) throw std::invalid_argument(origin + ": unknown setting '" + name + "'");
    try {
      it->parse(settings, value);
    } catch (const std::invalid_argument& e) {
      const std::string spelled = source == Source::kEnvironment ? it->env()
                                  : source == Source::kFlags     ? "--" + it->flag()
                                                                 : "\"" + name + "\"";
      throw std::invalid_argument(origin + ": " + spelled + ": " + e.what());
    }
  }
}

std::map<std::string, std::string> read_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("config file " + path + ": cannot open");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for a number past double
    throw std::invalid_argument("config file " + path + ": " + e.what());
  }
  if (!j.is_object()) throw std::invalid_argument("config file " + path + ": expected a JSON object of settings");
  std::map<std::string, std::string> values;
  for (const auto& [key, value] : j.items()) {
    if (value.is_string())
      values[key] = value.get<std::string>();
    else if (value.is_number() || value.is_boolean())
      values[key] = value.dump();
    else
      throw std::invalid_argument("config file " + path + ": " + key + ": expected a string, number or boolean");
  }
  return values;
}

}  // namespace

std::string SettingSpec::flag() const {
  std::string f = name;
  std::replace(f.begin(), f.end(), '_', '-');
  return f;
}

std::string SettingSpec::env() const {
  std::string e = "LONGQA_" + name;
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::toupper(c); });
  return e;
}

const std::vector<SettingSpec>& setting_specs() {
  using S = ServerSettings;
  static const std::vector<SettingSpec> specs = {
      string_setting("host", &S::host, "address to listen on"),
      int_setting("port", &S::port, "TCP port (0 = any free port)"),
      int_setting("io_threads", &S::io_threads, "threads serving HTTP connections"),
      int_setting("max_connections", &S::max_connections,
                  "open connections at most: past it the one waiting longest for a request is closed, or "
                  "when all are busy the new one is refused (503)"),
      string_setting("tls_certificate", &S::tls_certificate, "PEM certificate (chain) file: serve HTTPS (with --tls-key)"),
      string_setting("tls_key", &S::tls_key, "PEM private key file of --tls-certificate"),
      string_setting("api_keys_file", &S::api_keys_file,
                     "file of API keys, one '<name> <scopes> <key>' per line (scopes: read,write,admin; key: 16+ "
                     "characters, or sha256:<hex digest>); with keys, every endpoint but /health needs "
                     "'Authorization: Bearer <key>'"),
      {"api_keys", "API keys as in --api-keys-file, ';'-separated (prefer the file or the environment: a "
                   "flag shows in the process list)",
       false, [](S& s, const std::string& v) { s.api_keys = v; },
       [](const S& s) { return s.api_keys.empty() ? std::string() : std::string("(hidden)"); }},
      double_setting("key_rate_limit", &S::key_rate_limit, "requests per second per API key, 0 = no limit (429 beyond)"),
      string_setting("cors_origins", &S::cors_origins,
                     "origins a browser page may call the API from, comma-separated ('*' = any); none by default"),
      bool_setting("access_log", &S::access_log, "log one line per request (request id, key name, status, time)"),
      string_setting("reader", &S::reader_dir, "reader model directory (config.json, model.safetensors, vocab.txt)"),
      string_setting("index", &S::index_dir,
                     "index directory, or a postgresql:// connection string (a PostgreSQL store that any "
                     "number of replicas share); without it only /v1/read is served"),
      string_setting("store", &S::index_dir, "the same as --index"),
      string_setting("encoder", &S::encoder,
                     "text encoder of the index (default: the one its manifest names); with a folder "
                     "that holds no index yet, a new empty index is made with it"),
      string_setting("retrieval_mode", &S::retrieval_mode, "fused (dense + BM25), dense or bm25"),
      double_setting("commit_interval_s", &S::commit_interval_s,
                     "seconds between checkpoints of the dense index after document changes (the "
                     "docstore is durable at once; the vectors are re-encoded from it after a crash)"),
      string_setting("device", &S::device, "where the reader runs: cpu, cuda, cuda:N"),
      int_setting("reader_threads", &S::reader_threads, "libtorch intra-op CPU threads (0 = its default)"),
      int_setting("max_answer_tokens", &S::max_answer_tokens, "longest answer, in tokens"),
      int_setting("window_tokens", &S::window_tokens, "tokens per reader window (0 = the model's maximum)"),
      int_setting("overlap_tokens", &S::overlap_tokens, "document tokens shared by consecutive windows (-1 = a quarter)"),
      int_setting("batch_windows", &S::batch_windows, "reader windows per forward pass, at most"),
      int_setting("batch_tokens", &S::batch_tokens,
                  "reader tokens per forward pass, padding included, at most (a longer window is read alone)"),
      string_setting("dtype", &S::dtype, "what the reader computes in: float32, bfloat16 or int8 (CPU only)"),
      bool_setting("allow_no_answer", &S::allow_no_answer, "let the reader answer 'no answer'"),
      string_setting("score_calibration", &S::score_calibration,
                     "how span scores of different windows and documents are compared: raw, null (minus the "
                     "window's [CLS] score) or softmax (log-probabilities within each window)"),
      double_setting("passage_weight", &S::passage_weight,
                     "weight of the passage prior in /v1/ask: times the index encoder's similarity of question and "
                     "passage, added to the score of spans starting in that passage (0 = off)"),
      int_setting("workers", &S::workers, "inference worker threads"),
      int_setting("queue_capacity", &S::queue_capacity, "requests waiting for a worker; more are answered 429"),
      int_setting("max_batch_size", &S::max_batch_size, "requests read together in one batch (1 = no batching)"),
      int_setting("max_batch_tokens", &S::max_batch_tokens, "question + document tokens per batch"),
      double_setting("max_wait_ms", &S::max_wait_ms, "how long a batch waits for more requests, in ms"),
      int_setting("retry_after_s", &S::retry_after_s, "Retry-After seconds of 429/503 answers"),
      int_setting("max_body_bytes", &S::max_body_bytes, "largest request body (413 beyond)"),
      int_setting("max_header_bytes", &S::max_header_bytes, "largest request header block (431 beyond)"),
      int_setting("max_question_chars", &S::max_question_chars, "longest question, in characters"),
      int_setting("max_context_chars", &S::max_context_chars, "longest context or document, in characters"),
      int_setting("max_contexts", &S::max_contexts, "contexts per /v1/read request"),
      int_setting("max_documents", &S::max_documents, "documents per POST /v1/documents"),
      int_setting("max_top_k_answers", &S::max_top_k_answers, "largest top_k_answers"),
      int_setting("max_top_k_documents", &S::max_top_k_documents, "largest top_k_documents / top_k"),
      double_setting("header_timeout_s", &S::header_timeout_s,
                     "seconds a new connection has to send its first request header, and any request header "
                     "from its first byte (slow or half-sent headers are cut off)"),
      double_setting("read_timeout_s", &S::read_timeout_s, "seconds to receive a whole request from its first byte"),
      double_setting("write_timeout_s", &S::write_timeout_s, "seconds to send a whole response"),
      double_setting("idle_timeout_s", &S::idle_timeout_s, "seconds a keep-alive connection may wait for its next request"),
      double_setting("shutdown_timeout_s", &S::shutdown_timeout_s, "seconds shutdown waits for in-flight requests"),
  };
  return specs;
}

void ServerSettings::validate() const {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("setting " + what);
  };
  require(!reader_dir.empty(), "reader is required: the reader model directory");
  require(port >= 0 && port <= 65535, "port must be in 0..65535");
  require(io_threads >= 1, "io_threads must be >= 1");
  require(max_connections >= 1, "max_connections must be >= 1");
  require(tls_certificate.empty() == tls_key.empty(), "tls_certificate and tls_key go together: give both or neither");
  require(key_rate_limit >= 0, "key_rate_limit must be >= 0");
  require(retrieval_mode == "fused" || retrieval_mode == "dense" || retrieval_mode == "bm25",
          "retrieval_mode must be fused, dense or bm25");
  require(commit_interval_s >= 0, "commit_interval_s must be >= 0");
  require(device == "cpu" || device.rfind("cuda", 0) == 0, "device must be cpu, cuda or cuda:N");
  require(reader_threads >= 0, "reader_threads must be >= 0");
  require(max_answer_tokens >= 1, "max_answer_tokens must be >= 1");
  require(window_tokens >= 0, "window_tokens must be >= 0");
  require(overlap_tokens >= -1, "overlap_tokens must be >= -1");
  require(batch_windows >= 1, "batch_windows must be >= 1");
  require(batch_tokens >= 1, "batch_tokens must be >= 1");
  check_score_calibration(score_calibration);
  check_reader_dtype(dtype);
  require(std::isfinite(passage_weight) && passage_weight >= 0, "passage_weight must be a finite number >= 0");
  require(workers >= 1, "workers must be >= 1");
  require(queue_capacity >= 1, "queue_capacity must be >= 1");
  require(max_batch_size >= 1, "max_batch_size must be >= 1");
  require(max_batch_tokens >= 1, "max_batch_tokens must be >= 1");
  require(max_wait_ms >= 0, "max_wait_ms must be >= 0");
  require(retry_after_s >= 0, "retry_after_s must be >= 0");
  require(max_body_bytes >= 1024, "max_body_bytes must be >= 1024");
  require(max_header_bytes >= 1024, "max_header_bytes must be >= 1024");
  require(max_question_chars >= 1, "max_question_chars must be >= 1");
  require(max_context_chars >= 1, "max_context_chars must be >= 1");
  require(max_contexts >= 1, "max_contexts must be >= 1");
  require(max_documents >= 1, "max_documents must be >= 1");
  require(max_top_k_answers >= 1, "max_top_k_answers must be >= 1");
  require(max_top_k_documents >= 1, "max_top_k_documents must be >= 1");
  require(header_timeout_s > 0 && read_timeout_s > 0 && write_timeout_s > 0 && idle_timeout_s > 0 && shutdown_timeout_s > 0,
          "timeouts must be > 0");
}

ServerSettings resolve_settings(const std::map<std::string, std::string>& flags,
                                const std::map<std::string, std::string>& environment,
                                const std::string& config_path) {
  ServerSettings settings;
  if (!config_path.empty())
    apply(settings, read_config_file(config_path), Source::kFile, "config file " + config_path);
  apply(settings, environment, Source::kEnvironment, "environment");
  apply(settings, flags, Source::kFlags, "command line");
  settings.validate();
  return settings;
}

std::map<std::string, std::string> settings_from_environment(const std::function<const char*(const char*)>& getenv) {
  std::map<std::string, std::string> values;
  for (const auto& spec : setting_specs())
    if (const char* v = getenv(spec.env().c_str())) values[spec.name] = v;
  return values;
}

}  // namespace longqa::server
