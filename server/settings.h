// Server settings, and where they come from: command-line flags, LONGQA_* environment
// variables, a JSON config file, defaults (that order of precedence). One table
// (setting_specs) names each setting in all three forms and documents it, so --help,
// the environment and the config file never disagree.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "longqa/reader.h"

namespace longqa::server {

struct ServerSettings {
  // Listening
  std::string host = "127.0.0.1";
  int64_t port = 8080;  // 0 = an ephemeral port (Server::port() says which)
  int64_t io_threads = 2;
  int64_t max_connections = 4096;  // beyond it the connection idle longest is closed, or the new one refused
  std::string tls_certificate;     // PEM certificate (chain) file: serve HTTPS; with tls_key
  std::string tls_key;             // PEM private key file
  // Access (see access.h)
  std::string api_keys_file;       // one '<name> <scopes> <key>' per line
  std::string api_keys;            // the same entries, ';'-separated (LONGQA_API_KEYS); never shown
  double key_rate_limit = 0;       // requests per second per key; 0 = no limit
  std::string cors_origins;        // origins allowed to call from a browser, comma-separated; "*" = any
  bool access_log = false;         // one line per request on stderr (request id, key name, status, ms)
  // Model and index
  std::string reader_dir;  // required
  std::string index_dir;   // optional: without it only /v1/read answers
  std::string encoder;     // the index's text encoder; default: the one its manifest names
  std::string retrieval_mode = "fused";  // fused, dense or bm25
  double commit_interval_s = 60;  // longest time document changes wait for an index checkpoint
  std::string device = "cpu";
  int64_t reader_threads = 0;  // intra-op threads of libtorch; 0 = its default
  int64_t max_answer_tokens = 30;
  int64_t window_tokens = 0;    // 0 = the model's maximum
  int64_t overlap_tokens = -1;  // -1 = a quarter of the window
  int64_t batch_windows = 8;
  int64_t batch_tokens = 16384;  // ReaderOptions::batch_tokens
  std::string dtype = "float32";  // ReaderOptions::dtype
  bool allow_no_answer = false;
  std::string score_calibration = "raw";  // ReaderOptions::score_calibration
  double passage_weight = ReaderOptions{}.passage_weight;  // ReaderOptions::passage_weight
  // Batching worker pool
  int64_t workers = 1;
  int64_t queue_capacity = 64;    // waiting requests beyond this are answered 429
  int64_t max_batch_size = 8;     // requests per Reader::read_batch call; 1 = no batching
  int64_t max_batch_tokens = 32768;  // question + document tokens per batch (one request may exceed it alone)
  double max_wait_ms = 5;         // how long the first request of a batch waits for company
  int64_t retry_after_s = 1;      // Retry-After of 429 and 503 answers
  // Limits
  int64_t max_body_bytes = 8 << 20;
  int64_t max_header_bytes = 16 << 10;
  int64_t max_question_chars = 2000;        // code points
  int64_t max_context_chars = 2'000'000;    // per context or document, code points
  int64_t max_contexts = 16;                // contexts per /v1/read request
  int64_t max_documents = 1000;             // documents per POST /v1/documents
  int64_t max_top_k_answers = 20;
  int64_t max_top_k_documents = 100;
  // Timeouts (seconds)
  double header_timeout_s = 10;  // a new connection's first request header, and any header from its first byte
  double read_timeout_s = 30;    // a whole request, from its first byte
  double write_timeout_s = 30;   // a whole response
  double idle_timeout_s = 60;    // a keep-alive connection waiting for its next request
  double shutdown_timeout_s = 30;  // longest wait for in-flight requests on shutdown

  // Throws std::invalid_argument naming the setting when a value is out of range.
  void validate() const;
};

// One setting: its name in snake_case (config file key), as a flag (--kebab-case) and as an
// environment variable (LONGQA_UPPER_CASE), its help text and how to parse and show it.
struct SettingSpec {
  std::string name;
  std::string help;
  bool is_bool = false;
  std::function<void(ServerSettings&, const std::string&)> parse;  // throws std::invalid_argument
  std::function<std::string(const ServerSettings&)> show;

  std::string flag() const;  // "max-batch-size"
  std::string env() const;   // "LONGQA_MAX_BATCH_SIZE"
};

const std::vector<SettingSpec>& setting_specs();

// The config file: a JSON object whose keys are setting names; unknown keys are an error.
// Flags and environment are maps from setting name to text. `config_path` empty = no file.
// Precedence: flags > environment > file > defaults. Errors name the source and the setting.
ServerSettings resolve_settings(const std::map<std::string, std::string>& flags,
                                const std::map<std::string, std::string>& environment,
                                const std::string& config_path);

// The LONGQA_* variables of the process environment that name settings, by setting name.
std::map<std::string, std::string> settings_from_environment(
    const std::function<const char*(const char*)>& getenv);

}  // namespace longqa::server
